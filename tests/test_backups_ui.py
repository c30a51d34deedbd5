"""Issue 19 on screen: the Backups window (folder, schedule, Back up now), the backup at lock, the administrators'
status line and its too-old warning, and a restore from the app that brings the data back and keeps the current
database aside."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services import autobackup as A
from msc_sle_crf.ui import backups
from msc_sle_crf.ui.main_window import MainWindow
from msc_sle_crf.ui.restore import RestoreDialog

from .conftest import ADMIN_PW, make_user


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    where = tmp_path / "usb"
    where.mkdir()
    return where


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every question answered Yes; every message kept (no modal box blocks the test)."""
    seen: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, lambda _p, _t, text, *a, **k: seen.append(text))
    return seen


def test_admin_sets_the_folder_backs_up_now_and_sees_the_status(qtbot, site: Site, admin: Workspace, folder: Path,
                                                                answers: list[str], clock) -> None:
    main = MainWindow(admin, idle_ms=60_000)
    qtbot.addWidget(main)
    label = backups.scheduler(main).label
    assert label.isVisibleTo(main) and "OFF" in label.text() and "b00020" in label.styleSheet()
    dialog = backups.open_backups(main)
    dialog.folder.setText(str(folder))
    dialog.keep.setValue(3)
    dialog.back_up_now()  # saves the settings first (audited), then copies in the background
    qtbot.waitUntil(lambda: bool(answers), timeout=20_000)
    assert "read back and checked" in answers[-1]
    assert admin.settings.get("backup_folder") == str(folder) and admin.settings.get("backup_keep") == "3"
    made = list(folder.iterdir())
    assert len(made) == 1 and made[0].name.endswith("-auto.crfbak")
    assert dialog.table.rowCount() == 1 and dialog.table.item(0, 1).text() == "admin"
    assert label.text().startswith("Last backup") and label.styleSheet() == ""
    actions = [r.action for r in admin.integrity.audit_trail(limit=12)]
    assert actions.count("setting_change") == 2 and "backup_verified" in actions
    clock.advance(49 * 3600)
    label.refresh()
    assert label.text().startswith("⚠ Last backup 49 h ago") and "b00020" in label.styleSheet()
    main.close()


def test_a_lock_backs_up_in_the_nurses_session_and_she_sees_no_status(qtbot, site: Site, admin: Workspace,
                                                                     folder: Path) -> None:
    admin.settings.set("backup_folder", str(folder))
    nurse = Workspace.sign_in(site, "nurse.l", make_user(admin, "nurse.l", "nurse"))
    nurse.subjects.register("QRS", 1981, "F")
    main = MainWindow(nurse, idle_ms=60_000)
    qtbot.addWidget(main)
    main.show()
    sched = backups.scheduler(main)
    assert not sched.label.isVisible()  # administrators only
    with qtbot.waitSignal(sched.finished, timeout=20_000):
        main.lock()
    made = list(folder.iterdir())
    assert len(made) == 1
    assert main.stack.currentWidget() is main.lock_screen and nurse.locked
    trail = [(r.action, r.username) for r in admin.integrity.audit_trail(limit=6)]
    assert ("backup_verified", "nurse.l") in trail and ("lock", "nurse.l") in trail
    main.close()


def test_restore_from_the_app_brings_the_data_back_and_keeps_the_current_database(
        qtbot, tmp_path: Path, db_path: Path, site: Site, admin: Workspace, folder: Path, answers: list[str], clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_sle_crf.ui.app import App

    doctor = Workspace.sign_in(site, "dr.x", make_user(admin, "dr.x", "investigator"))
    doctor.subjects.register("AAA", 1980, "F")
    admin.settings.set("backup_folder", str(folder))
    backup = A.run(admin, "manual").path
    assert backup is not None
    doctor.subjects.register("BBB", 1990, "M")  # after the backup: gone after the restore
    shell = App(site, study=admin.study)
    qtbot.addWidget(shell.login)
    shell._signed_in(admin)
    main = shell.main
    assert main is not None
    qtbot.addWidget(main)
    dialog = RestoreDialog(main)  # the newest backup of the folder, described from its manifest
    assert dialog.info is not None and dialog.info.path == backup
    assert "by admin" in dialog.details.text() and f"#{dialog.info.trail_record}" in dialog.details.text()
    dialog.password.setText(ADMIN_PW)
    dialog.confirm()
    qtbot.waitUntil(lambda: bool(answers), timeout=30_000)
    assert "is restored" in answers[-1] and "replaced-" in answers[-1], answers
    assert shell.main is None and shell.site is not site and shell.login.site is shell.site
    aside = sorted(p for p in db_path.parent.iterdir() if ".replaced-" in p.name)
    assert any(p.name.startswith("trial.crfdb.replaced-") for p in aside)
    kept = next(p for p in aside if p.name.startswith("trial.crfdb.replaced-"))
    stamp = kept.name.removeprefix("trial.crfdb.")
    look = tmp_path / "kept" / "trial.crfdb"
    look.parent.mkdir()
    shutil.copy(kept, look)
    shutil.copy(db_path.parent / f"trial.crfdb.keys.{stamp}", f"{look}.keys")
    restored = Workspace.sign_in(shell.site, "dr.x", "pw-x.rd-2026")
    assert [s.initials for s in restored.subjects.list()] == ["AAA"]
    assert restored.integrity.verify().ok
    shell.site.close()
    # the kept database holds everything up to the request, whose record ends its trail
    old = Site.open(look, clock=clock)
    try:
        old_doctor = Workspace.sign_in(old, "dr.x", "pw-x.rd-2026")
        assert [s.initials for s in old_doctor.subjects.list()] == ["AAA", "BBB"]
        trail = [(r.action, r.detail or "") for r in old_doctor.integrity.audit_trail(limit=5)]
        assert any(a == "restore" and "restore from the app started" in d for a, d in trail)
    finally:
        old.close()


def test_the_status_line_stays_quiet_once_the_database_is_closed(qtbot, site: Site, admin: Workspace) -> None:
    main = MainWindow(admin, idle_ms=60_000)
    qtbot.addWidget(main)
    label = backups.scheduler(main).label
    site.close()
    label.refresh()  # its minute timer firing after the program closed the database: no error, no more timer
    assert not label.timer.isActive()
    assert not backups.scheduler(main).trigger("daily")


def test_a_restore_refused_for_a_wrong_recovery_code_leaves_the_database_open_and_unchanged(
        qtbot, db_path: Path, site: Site, admin: Workspace, folder: Path, answers: list[str]) -> None:
    from msc_sle_crf.ui.app import App

    admin.settings.set("backup_folder", str(folder))
    assert A.run(admin, "manual").path is not None
    shell = App(site, study=admin.study)
    qtbot.addWidget(shell.login)
    shell._signed_in(admin)
    assert shell.main is not None
    qtbot.addWidget(shell.main)
    dialog = RestoreDialog(shell.main)
    dialog.by_code.setChecked(True)
    dialog.code.setText("AAAA-BBBB-CCCC-DDDD")
    dialog.confirm()
    qtbot.waitUntil(lambda: bool(answers), timeout=30_000)
    assert "recovery code" in answers[-1].lower() and "Nothing was replaced" in answers[-1]
    assert not [p for p in db_path.parent.iterdir() if ".replaced-" in p.name]
    assert shell.site is not None and shell.login.site is shell.site and shell.site is not site
    again = Workspace.sign_in(shell.site, "admin", ADMIN_PW)
    trail = [(r.action, r.detail or "") for r in again.integrity.audit_trail(limit=6)]
    assert any(a == "restore" and "started" in d for a, d in trail)  # the attempt is in the trail
    shell.site.close()
