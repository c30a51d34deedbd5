"""Issue 13, item 7: ``msc-sle-crf demo`` in seconds, with a progress line; built aside, all or nothing. What it no
longer pays for: compiling the forms again because another version of the program shares the user's cache, importing
reportlab before anything is printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from msc_sle_crf import formdef
from msc_sle_crf.demo_accounts import DEMO_ACCOUNTS
from msc_sle_crf.formdef import load_study
from msc_sle_crf.security.keyslots import KIND_USER, MIN_KDF, KeySlotFile
from msc_sle_crf.services import Site, Workspace

from .forms_helpers import copy_forms

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_says_what_it_does_and_keeps_tuned_parameters_for_later_accounts(tmp_path: Path) -> None:
    db = tmp_path / "training.crfdb"
    run = subprocess.run([sys.executable, "-m", "msc_sle_crf", "demo", "--db", str(db)], cwd=ROOT, text=True,
                         capture_output=True, timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr
    steps = run.stderr.splitlines()
    assert steps[0] == "Creating the TRAINING database: site and accounts…"
    assert "Creating the TRAINING database: subject 8 of 8…" in steps
    assert steps[-1].startswith("Creating the TRAINING database: done in ")
    keys = KeySlotFile.load(KeySlotFile.path_for(db))
    # The published accounts are at the code's floor (their passwords are printed: a slow derivation protects
    # nothing); the key file's default, for accounts added later, is tuned to this computer.
    for username, *_ in DEMO_ACCOUNTS:
        slot = keys.find(KIND_USER, username)
        assert slot is not None and slot.kdf == MIN_KDF
    assert keys.kdf_default != MIN_KDF and keys.kdf_default.memory_kib >= 64 * 1024
    site = Site.open(db)
    try:
        doctor = Workspace.sign_in(site, DEMO_ACCOUNTS[1][0], DEMO_ACCOUNTS[1][3])
        assert len(doctor.subjects.list()) == 8
        assert doctor.integrity.check_after_sign_in().ok
    finally:
        site.close()


def test_a_demo_that_fails_half_way_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_sle_crf.security.keyslots import KdfParams
    from msc_sle_crf.services import demo_data
    from msc_sle_crf.services.demo import create_demo

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk pulled out")

    monkeypatch.setattr(demo_data, "populate", broken)
    db = tmp_path / "t" / "training.crfdb"
    with pytest.raises(RuntimeError):
        create_demo(db, kdf=KdfParams(time_cost=1, memory_kib=1024, parallelism=1))
    leftovers = [p.name for p in db.parent.iterdir()] if db.parent.exists() else []
    assert [n for n in leftovers if not n.endswith(".lock")] == [], leftovers


def test_two_versions_of_the_program_keep_their_own_compiled_forms(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("MSC_SLE_CRF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(formdef, "_compiled", {})
    folder = copy_forms(tmp_path)
    first = load_study(folder)
    real = formdef._digest
    monkeypatch.setattr(formdef, "_digest", lambda f: (real(f)[0], "1" * 64))  # another version's compiler
    monkeypatch.setattr(formdef, "_compiled", {})
    load_study(folder)
    assert len(list((tmp_path / "cache" / "compiled-forms").glob("*.json"))) == 2
    monkeypatch.setattr(formdef, "_digest", real)
    monkeypatch.setattr(formdef, "_compiled", {})

    def no_compile(_folder: Path) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(formdef, "compile_study", no_compile)
    assert load_study(folder) == first  # this version's copy was not replaced by the other's


def test_the_services_do_not_import_reportlab_until_something_is_printed() -> None:
    code = ("import sys\nimport msc_sle_crf.services, msc_sle_crf.services.workspace\n"
            "print('reportlab' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.strip()
    assert out == "False"


def test_the_published_demo_passwords_pass_the_full_strength_check_they_skip(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``check_password_policy`` does not run zxcvbn again for a demo account's own published password: the full
    check accepts each (if zxcvbn or the site words change so that one fails, this test says so)."""
    from msc_sle_crf.errors import ValidationError
    from msc_sle_crf.security import policy

    for username, _name, _role, password in DEMO_ACCOUNTS:
        score, _advice = policy.password_feedback(password, username)
        assert score >= policy.MIN_STRENGTH, username
        policy.check_password_policy(password, username)
    from msc_sle_crf.i18n import L

    # Only the account's own pair skips the estimate: not a way around the policy for anyone else.
    monkeypatch.setattr(policy, "password_feedback", lambda *_a: (0, L("weak", "faible")))
    policy.check_password_policy("training-doctor", "dr.martin")
    with pytest.raises(ValidationError):
        policy.check_password_policy("training-doctor", "dr.durand")
