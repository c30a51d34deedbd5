"""Item 6: the form compiler and the licensed-wording loader refuse YAML anchors/aliases and oversized files with
one error line, fast, whatever the file would expand to."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.formdef import check_dir, licensed

from .forms_helpers import copy_forms
from .issue15_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]

LAUGHS = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                   + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]"
                      for i in range(9)]) + "\nid: laughs\n"


def test_billion_laughs_in_forms_is_one_error_line_fast(tmp_path: Path) -> None:
    forms = copy_forms(tmp_path)
    (forms / "laughs.yaml").write_text(LAUGHS)
    # run as a user would, in a child with a 400 MB address-space cap: the old compiler grew to 2.4 GB
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20)); "
            "from msc_sle_crf.cli import main; sys.exit(main(['forms', 'check', sys.argv[1]]))")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, str(forms)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr[-2000:]
    problems = [line for line in proc.stderr.splitlines() if "laughs.yaml" in line]
    assert len(problems) == 1 and "anchors and aliases" in problems[0] and "laughs.yaml:1:" in problems[0]
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert elapsed < 30


def test_a_single_alias_and_an_oversized_file_are_refused(tmp_path: Path) -> None:
    forms = copy_forms(tmp_path)
    (forms / "alias.yaml").write_text("base: &b {en: x, fr: y}\nid: alias\nlabel: *b\n")
    (forms / "huge.yaml").write_text("id: huge\n" + "# padding\n" * 120_000)
    result = check_dir(forms)
    texts = [str(e) for e in result.errors]
    assert any("alias.yaml:1:" in t and "anchors and aliases" in t for t in texts), texts
    assert any("huge.yaml:1:" in t and "at most 1,048,576" in t for t in texts), texts
    run = run_cli("forms", "check", str(forms))
    assert run.code == 1 and "Traceback" not in run.err


def test_licensed_wording_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "sf36v2.yaml").write_text(LAUGHS)
    with pytest.raises(ValidationError) as err:
        licensed.load("sf36v2", tmp_path)
    assert err.value.msg is Msg.YAML_REFUSED and "anchors and aliases" in err.value.message()
    (tmp_path / "eq5d5l.yaml").write_text("instrument: eq5d5l\nitems: [unclosed\n")
    with pytest.raises(ValidationError) as err:
        licensed.load("eq5d5l", tmp_path)
    assert "YAML syntax error" in err.value.message()
