"""Issue 19, the ward-laptop bundle: what the frozen program needs is package data found through
importlib.resources, the self-check passes, the spec ships it all, and install.sh installs and upgrades in place
(keeping the previous program) with a menu entry. The PyInstaller build itself and its frozen smoke test run in CI
(``.ci/run``: packaging/build.sh, packaging/smoke.sh)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from msc_sle_crf import shipped
from msc_sle_crf.formdef import default_forms_dir
from msc_sle_crf.scoring import ctcae

ROOT = Path(__file__).resolve().parents[1]


def test_forms_and_tables_are_package_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSC_SLE_CRF_FORMS_DIR", raising=False)
    assert (shipped.forms_dir() / "study.yaml").is_file()
    assert default_forms_dir() == shipped.forms_dir()
    assert ctcae.CSV_PATH.is_file() and ctcae.CSV_PATH.is_relative_to(shipped.resources_dir())
    # in a checkout the package's data folder points at the one copy everyone edits
    assert shipped.forms_dir() == (ROOT / "forms").resolve()
    assert (ROOT / "msc_sle_crf" / "data" / "forms" / "study.yaml").is_file()


def test_selfcheck_runs_the_installation_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    from msc_sle_crf.cli import main

    assert main(["selfcheck"]) == 0
    out = capsys.readouterr().out
    for step in ("forms", "ctcae", "database", "sign-in", "save", "pdf", "verify", "backup", "french"):
        assert f"ok   {step}:" in out, out
    assert "value saved and audited" in out and "Cancel -> Annuler" in out
    assert out.strip().endswith("selfcheck: all checks passed")


def test_the_spec_ships_forms_tables_migrations_and_qt_french() -> None:
    spec = (ROOT / "packaging" / "msc-sle-crf.spec").read_text(encoding="utf-8")
    for needed in ('"forms"', '"resources"', '"migrations"', "qtbase_fr.qm", "msc_sle_crf/data/forms",
                   "msc_sle_crf/data/resources", "icons"):
        assert needed in spec, needed
    assert (ROOT / "packaging" / "icons" / "msc-sle-crf.png").read_bytes()[:4] == b"\x89PNG"
    desktop = (ROOT / "packaging" / "msc-sle-crf.desktop").read_text(encoding="utf-8")
    assert "Exec=@EXEC@" in desktop and "Icon=@ICON@" in desktop and "Comment[fr]=" in desktop


def _fake_bundle(where: Path, version: str) -> Path:
    bundle = where / "msc-sle-crf"
    (bundle / "_internal" / "icons").mkdir(parents=True)
    (bundle / "_internal" / "icons" / "msc-sle-crf.png").write_bytes(b"\x89PNG fake")
    (bundle / "msc-sle-crf").write_text("#!/bin/sh\necho " + version + "\n")
    (bundle / "msc-sle-crf").chmod(0o755)
    (bundle / "msc-sle-crf.desktop").write_text((ROOT / "packaging" / "msc-sle-crf.desktop").read_text())
    (bundle / "VERSION").write_text(version + "\n")
    script = bundle / "install.sh"
    script.write_text((ROOT / "packaging" / "install.sh").read_text())
    script.chmod(0o755)
    return bundle


@pytest.mark.skipif(os.name != "posix", reason="install.sh is for Linux")
def test_install_sh_installs_then_upgrades_in_place_keeping_the_previous_program(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "INSTALL_SCOPE": "user"}

    def install(bundle: Path) -> str:
        done = subprocess.run(["bash", str(bundle / "install.sh")], env=env, capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = install(_fake_bundle(tmp_path / "v1", "0.1.0"))
    target = home / ".local" / "opt" / "msc-sle-crf"
    assert "installed 0.1.0" in out and (target / "VERSION").read_text().strip() == "0.1.0"
    entry = (home / ".local" / "share" / "applications" / "msc-sle-crf.desktop").read_text()
    assert f"Exec={target}/msc-sle-crf %F" in entry
    install(_fake_bundle(tmp_path / "v2", "0.2.0"))
    assert (target / "VERSION").read_text().strip() == "0.2.0"
    assert (home / ".local" / "opt" / "msc-sle-crf.previous" / "VERSION").read_text().strip() == "0.1.0"
