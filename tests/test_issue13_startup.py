"""Issue 13, item 5: the sign-in window first; the forms compiled with libyaml and cached on disk by the files'
hashes (never trusted otherwise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from msc_sle_crf import formdef
from msc_sle_crf.formdef import FormSetError, load_study
from msc_sle_crf.formdef.definitions import FormDef
from msc_sle_crf.services import Site, Workspace

from .conftest import ADMIN_PW
from .forms_helpers import STUDY, copy_forms

ROOT = Path(__file__).resolve().parents[1]


def test_sign_in_window_paints_before_the_database_layer_and_forms_load(db_path: Path, site: Site) -> None:
    site.close()
    run = subprocess.run([sys.executable, "-m", "tests.helpers.first_paint", str(db_path)], cwd=ROOT, text=True,
                         capture_output=True, timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("loaded")), None)
    assert line is not None, run.stderr[-2000:]
    assert line.split()[1:] == []  # no SQLAlchemy, Alembic, SQLCipher, services or form compiler yet


def test_sign_in_pressed_before_the_site_is_open_waits_for_it(qtbot, db_path: Path, site: Site,
                                                              admin: Workspace) -> None:
    from PySide6.QtCore import Qt

    from msc_sle_crf.ui.login import LoginWindow

    window = LoginWindow(None, db_path=db_path, training=False)
    qtbot.addWidget(window)
    qtbot.keyClicks(window.user, "admin")
    qtbot.keyClicks(window.password, ADMIN_PW)
    qtbot.keyClick(window.password, Qt.Key.Key_Return)
    assert "Opening the database" in window.error.text() and not window.submit.isEnabled()
    with qtbot.waitSignal(window.signed_in, timeout=10_000) as signal:
        window.set_site(site, STUDY)
    assert signal.args[0].actor.username == "admin"


def test_every_definition_reads_back_as_itself() -> None:
    """A stored snapshot (and the compiled-study cache) read back gives the same definition and the same hash (a
    show-if condition used to come back wrapped in another level)."""
    for form in STUDY.forms.values():
        again = FormDef.model_validate_json(form.canonical_json())
        assert again == form and again.content_hash() == form.content_hash(), form.id


def _fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("MSC_SLE_CRF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(formdef, "_compiled", {})
    return tmp_path / "cache" / "compiled-forms"


def test_compiled_study_is_cached_by_the_files_hashes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = _fresh(monkeypatch, tmp_path)
    folder = copy_forms(tmp_path)
    first = load_study(folder)
    files = list(cache.glob("*.json"))
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"
    monkeypatch.setattr(formdef, "_compiled", {})  # a new process: nothing in memory

    def no_compile(_folder: Path) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(formdef, "compile_study", no_compile)
    again = load_study(folder)
    assert again == first
    assert {f: d.content_hash() for f, d in again.forms.items()} == \
        {f: d.content_hash() for f, d in STUDY.forms.items()}


def test_a_changed_form_file_is_compiled_again_with_its_errors(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    _fresh(monkeypatch, tmp_path)
    folder = copy_forms(tmp_path)
    load_study(folder)
    labs = folder / "labs.yaml"
    labs.write_text(labs.read_text().replace("hard_max: 25", "hard_max: 2"))  # below its soft_max
    monkeypatch.setattr(formdef, "_compiled", {})
    with pytest.raises(FormSetError) as err:
        load_study(folder)
    assert any(e.file.endswith("labs.yaml") and e.line > 1 for e in err.value.errors)


def test_a_tampered_cache_is_not_trusted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = _fresh(monkeypatch, tmp_path)
    folder = copy_forms(tmp_path)
    load_study(folder)
    path = next(cache.glob("*.json"))
    header, body = path.read_text().split("\n", 1)
    assert '"hard_max":"25"' in body or '"hard_max":25' in body
    path.write_text(header + "\n" + body.replace('"hard_max":"25"', '"hard_max":"250"').replace(
        '"hard_max":25', '"hard_max":250'))  # a looser range, the files' hashes unchanged
    monkeypatch.setattr(formdef, "_compiled", {})
    study = load_study(folder)
    assert str(study.forms["labs"].item("HGB").hard_max) == "25"  # compiled again from the files
    forged = json.loads(header)
    forged["code"] = "0" * 64
    path.write_text(json.dumps(forged) + "\n" + body)
    monkeypatch.setattr(formdef, "_compiled", {})
    assert load_study(folder) == study


def test_the_screen_fit_installed_after_the_first_paint_still_checks_the_sign_in_window(qtbot, monkeypatch) -> None:
    """At start-up the screen-fit policy is installed once the sign-in window has painted (``App(fit_later=True)``):
    the window already on screen is checked then, and every window shown later as before."""
    from PySide6.QtWidgets import QDialog

    from msc_sle_crf.ui import window_policy
    from msc_sle_crf.ui.app import App
    from msc_sle_crf.ui.login import LoginWindow

    checked: list[object] = []
    monkeypatch.setattr(window_policy, "fit_if_needed", checked.append)
    login = LoginWindow(None, db_path=Path("x.crfdb"))
    qtbot.addWidget(login)
    shell = App(None, login=login, fit_later=True)
    login.show()
    qtbot.waitExposed(login)
    qtbot.wait(20)
    assert shell.screen_fit is None
    # (Earlier tests' App objects left their own policy on the application: what they did is forgotten here.)
    checked.clear()
    login.setProperty("screen_fitted", False)
    shell.fit_windows_to_screen()
    qtbot.waitUntil(lambda: login in checked)
    dialog = QDialog(login)
    dialog.show()
    qtbot.waitUntil(lambda: dialog in checked)
    assert login.property("screen_fitted") and dialog.property("screen_fitted")
    dialog.close()
    from PySide6.QtWidgets import QApplication

    QApplication.instance().removeEventFilter(shell.screen_fit)


def test_the_log_file_is_opened_at_the_first_record(monkeypatch, tmp_path: Path) -> None:
    """The log file is opened when something is first logged (``logging.handlers`` is not loaded at start-up), and
    an incident still lands in it."""
    import logging

    from msc_sle_crf import logging_setup

    monkeypatch.setenv("MSC_SLE_CRF_LOG_DIR", str(tmp_path / "logs"))
    root = logging.getLogger("msc_sle_crf")
    monkeypatch.setattr(root, "handlers", [])
    logging_setup.configure()
    assert not (tmp_path / "logs").exists()
    incident = logging_setup.log_incident(RuntimeError("boom"))
    for handler in root.handlers:
        handler.flush()
    text = (tmp_path / "logs" / "msc-sle-crf.log").read_text(encoding="utf-8")
    assert f"incident {incident}: RuntimeError" in text and "boom" not in text
    for handler in root.handlers:
        handler.close()
