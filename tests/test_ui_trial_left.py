"""Defects left by the new administrator's trial in real windows (brief h53).

1. Disabling an account (or "Rotate keys") right after sign-in, while the background integrity check still read the
   file: the check's own connection held the old key while the re-key rewrote every page under the new one, and
   the status bar said "Database check not completed: file is not a database". The re-key now stops the check,
   waits for it to end, and the check runs again on the new key (store/key_change.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit

import msc_sle_crf.services.integrity as I
from msc_sle_crf.audit import Action
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.menu_texts import ACCOUNTS_PATH
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store.key_change import key_change
from msc_sle_crf.ui.main_window import MainWindow

from .conftest import ADMIN_PW, make_user


def _until(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Wait for another thread to reach a point (an event-driven order, not a timing)."""
    pause = threading.Event()
    for _ in range(int(timeout * 100)):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("the other thread never got there")


def _paused_check(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """The background check stops once, its connection open with the key of that moment, until ``go``."""
    paused, go = threading.Event(), threading.Event()
    real = I.integrity_problems

    def pages(conn: Any, **kwargs: Any) -> list[str]:
        if not paused.is_set():
            paused.set()
            assert go.wait(60)
        return real(conn, **kwargs)

    monkeypatch.setattr(I, "integrity_problems", pages)
    return paused, go


def _verify_details(ws: Workspace) -> list[str]:
    return [r.detail or "" for r in ws.integrity.audit_trail(limit=50) if r.action == Action.AUDIT_VERIFY.value]


# ----- 1. the re-key and the check after sign-in ------------------------------------------------------------------
def test_a_disable_during_the_check_after_sign_in_stops_it_and_it_runs_again_on_the_new_key(
        site: Site, admin: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    make_user(admin, "nurse.x", "nurse")
    paused, go = _paused_check(monkeypatch)
    old_key = site.store.key if site.store else None
    out: dict[str, Any] = {}

    def run(name: str, fn: Callable[[], Any]) -> threading.Thread:
        def body() -> None:
            try:
                out[name] = fn()
            except BaseException as exc:  # asserted below
                out[name + " failed"] = exc
        thread = threading.Thread(target=body)
        thread.start()
        return thread

    check = run("check", admin.integrity.check_after_sign_in)
    assert paused.wait(60)
    disable = run("disable", lambda: admin.accounts.disable_user("nurse.x", "left the unit"))
    # Before: the re-key went on under the check, which then read pages under the new key with the old one
    # ("file is not a database"). Now the re-key asks the check to stop and waits for it.
    _until(lambda: key_change(site).wanted or not disable.is_alive())
    go.set()
    check.join(120)
    disable.join(120)
    assert "check failed" not in out and "disable failed" not in out, out
    report = out["check"]
    assert report.ok and report.after_rekey
    assert site.store is not None and site.store.key != old_key
    assert admin.accounts.last_rotation is not None and admin.accounts.last_rotation.removed == "nurse.x"
    assert any(d.startswith("check after sign-in: ") and ": ok; signatures checked" in d
               for d in _verify_details(admin))


def test_a_check_started_while_the_key_changes_waits_for_the_new_key(
        site: Site, admin: Workspace) -> None:
    out: dict[str, Any] = {}
    started = threading.Event()
    gate = key_change(site)
    with gate.changing():
        def body() -> None:
            started.set()
            out["report"] = admin.integrity.check_after_sign_in()
        check = threading.Thread(target=body)
        check.start()
        assert started.wait(60)
        assert "report" not in out  # it cannot have read anything: it waits at the gate until the block ends
    check.join(120)
    assert out["report"].ok and not out["report"].after_rekey


def test_the_status_bar_shows_the_check_run_again_after_a_disable_made_while_it_ran(
        qtbot, site: Site, admin: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    make_user(admin, "nurse.x", "nurse")
    paused, go = _paused_check(monkeypatch)
    main = MainWindow(admin, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    main.check_integrity()
    qtbot.waitUntil(paused.is_set, timeout=60_000)
    assert main.status_integrity.text() == "Checking the database…"
    panel = main.accounts
    panel.select("nurse.x")
    panel.disable_button.click()
    dialog = panel.dialog
    qtbot.waitExposed(dialog)
    dialog.findChild(QLineEdit, "reason").setText("left the unit")
    dialog.ok.click()
    qtbot.waitUntil(lambda: key_change(site).wanted or "disabled" in panel.status.text(), timeout=60_000)
    go.set()
    qtbot.waitUntil(lambda: "disabled" in panel.status.text() and main.status_integrity.state != "running",
                    timeout=120_000)
    QApplication.processEvents()
    status = main.status_integrity
    # Before: "Database check not completed: file is not a database" (or an AssertionError: the store was closed).
    assert status.state == "done", status.text()
    assert status.text().startswith("✓ Database intact"), status.text()
    assert "Checked again on the new key" in status.toolTip()


# ----- 2. an enable made elsewhere for an account disabled here -------------------------------------------------
@pytest.mark.parametrize("lang", [Lang.EN, Lang.FR])
def test_an_imported_enable_for_an_account_disabled_here_says_it_stays_disabled_here(
        tmp_path: Path, lang: Lang) -> None:
    from tests.test_issue18_disable_travels import _admin_on, _import_on_b

    from .helpers.packets import make_pair

    pair = make_pair(tmp_path)
    _admin_on(pair, "B", "disable")  # WS-02's own decision: only an enable made on WS-02 lifts it
    _admin_on(pair, "A", "disable")
    _admin_on(pair, "A", "enable")
    packet = pair.export("A")
    assert packet is not None
    outcome = _import_on_b(pair, packet)
    set_lang(lang)
    line = str(outcome.line())
    # Before: the line said nothing of monitor.m (the enable made on WS-01 silently did not apply here).
    expected = {Lang.EN: "monitor.m was enabled again on WS-01 but stays disabled on this workstation: it was "
                         "disabled here, and only an enable made here lifts that. Enable it here if wanted",
                Lang.FR: "monitor.m a été réactivé sur le poste WS-01 mais reste désactivé sur ce poste : il a été "
                         "désactivé ici, et seule une réactivation faite ici lève cette désactivation. "
                         "Réactivez-le ici si besoin"}[lang]
    assert expected in line, line
    assert ACCOUNTS_PATH.en in line if lang is Lang.EN else ACCOUNTS_PATH.fr in line
    site = Site.open(pair.b_db, clock=pair.clock)
    with site:  # and it is so: still disabled here
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)
        assert not {u.username: u for u in admin.accounts.list_users()}["monitor.m"].active


# ----- 3. a takeover at the lock screen with a one-time password ------------------------------------------------
def _locked_with_takeover(qtbot, site: Site, admin: Workspace) -> tuple[MainWindow, str]:
    doctor = Workspace.sign_in(site, "dr.t", make_user(admin, "dr.t", "investigator"))
    one_time = admin.accounts.add_user("nurse.t", "Nurse T", "nurse").password
    main = MainWindow(doctor, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    main.lock()
    qtbot.keyClicks(main.lock_screen.other_user, "nurse.t")
    qtbot.keyClicks(main.lock_screen.other_password, one_time)
    qtbot.keyClick(main.lock_screen.other_password, Qt.Key.Key_Return)
    return main, one_time


@pytest.mark.parametrize("lang", [Lang.EN, Lang.FR])
def test_a_takeover_with_a_one_time_password_leads_to_choose_your_password_then_to_work(
        qtbot, site: Site, admin: Workspace, lang: Lang) -> None:
    set_lang(lang)
    main, one_time = _locked_with_takeover(qtbot, site, admin)
    page = main.lock_screen.choose_page
    # Before: the lock screen said "log out, then sign in with it", and it has no way to log out (a dead end).
    qtbot.waitUntil(page.isVisible, timeout=10_000)
    assert not main.lock_screen.card.isVisible() and not main.menuBar().isEnabled()
    assert page.back.text() == {Lang.EN: "Back to the lock screen", Lang.FR: "Retour à l'écran verrouillé"}[lang]
    assert page.title.text() == {Lang.EN: "Choose your password", Lang.FR: "Choisissez votre mot de passe"}[lang]
    assert "Nurse T" in page.intro.text()
    qtbot.keyClicks(page.new, "violet-harbour-lantern-19")
    qtbot.keyClicks(page.again, "violet-harbour-lantern-19")
    qtbot.keyClick(page.again, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work, timeout=10_000)
    assert main.ws.actor.username == "nurse.t" and not main.ws.actor.must_change_password
    assert main.menuBar().isEnabled()
    from msc_sle_crf.errors import AuthenticationError

    with pytest.raises(AuthenticationError):
        site.authenticate("nurse.t", one_time)  # the one-time password was replaced
    assert site.authenticate("nurse.t", "violet-harbour-lantern-19").username == "nurse.t"


def test_back_from_choose_your_password_returns_to_the_locked_session(
        qtbot, site: Site, admin: Workspace) -> None:
    main, _one_time = _locked_with_takeover(qtbot, site, admin)
    page = main.lock_screen.choose_page
    qtbot.waitUntil(page.isVisible, timeout=10_000)
    page.back.click()
    assert main.stack.currentWidget() is main.lock_screen and main.lock_screen.card.isVisible()
    assert not page.isVisible()
    assert "Session of Dr.T (dr.t)" in main.lock_screen.who.text()
    assert main.ws.actor.username == "dr.t" and not main.menuBar().isEnabled()
    qtbot.keyClicks(main.lock_screen.password, "pw-t.rd-2026")
    qtbot.keyClick(main.lock_screen.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: main.stack.currentWidget() is main.work, timeout=10_000)
    assert main.ws.actor.username == "dr.t"


# ----- 4. the status bar at 1280 and 1366 px ----------------------------------------------------------------------
@pytest.mark.parametrize("lang", [Lang.EN, Lang.FR])
@pytest.mark.parametrize("size", [(1280, 800), (1366, 768)])
def test_the_status_bar_lines_fit_the_window_with_the_backups_warning(
        qtbot, site: Site, admin: Workspace, clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        lang: Lang, size: tuple[int, int]) -> None:
    from msc_sle_crf.errors import CrfError
    from msc_sle_crf.services import autobackup as A
    from msc_sle_crf.ui.common import STYLE

    # The trial's administrator: a site of several workstations, a backup more than a day old, the last one failed.
    monkeypatch.setattr(MainWindow, "_workstation", lambda self: "WS-02")
    admin.settings.set("backup_folder", str(tmp_path))
    A.run(admin, "manual")
    clock.advance(49 * 3600)
    admin.settings.set("backup_folder", str(tmp_path / "unplugged"))
    with pytest.raises(CrfError):
        A.run(admin, "manual")
    set_lang(lang)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet(STYLE)  # the program's own style (11 pt), as ``msc-sle-crf run`` and the real windows have it
    try:
        _status_bar_fits(qtbot, admin, size)
    finally:
        app.setStyleSheet("")


def _status_bar_fits(qtbot, admin: Workspace, size: tuple[int, int]) -> None:
    from msc_sle_crf.ui import backups
    from msc_sle_crf.ui.status_label import ElidedLabel

    main = MainWindow(admin, idle_ms=10**9)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    main.resize(*size)
    main.check_integrity()
    qtbot.waitUntil(lambda: main.status_integrity.state == "done", timeout=60_000)
    backups.scheduler(main).label.refresh()
    QApplication.processEvents()
    bar = main.statusBar()
    labels = [w for w in bar.findChildren(QLabel) if w.isVisible()]
    warning = backups.scheduler(main).label
    assert warning in labels and warning.text().startswith("⚠") and "49 h" in warning.text()
    width = main.width()
    assert width == size[0]
    for label in labels:
        geometry = label.geometry()
        # Before: the labels never shrank below their whole text; the bar's right end went off the window.
        assert geometry.left() >= 0 and geometry.right() < width, (label.objectName(), geometry, label.text())
        assert isinstance(label, ElidedLabel) or label.sizeHint().width() <= geometry.width(), label.text()
        if isinstance(label, ElidedLabel):
            shown = label.shown()
            assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width(), label.text()
            assert shown == label.text() or (shown.endswith("…") and label.text().startswith(shown[:-1]))
    # The site's line (the laptop, the site's name: h70) is whole and the warning keeps at least its first 520 px
    # (whole in its tooltip); what gives up room first is the user's line (the window's top says who is signed in) and
    # the check's good news (whole in its tooltip).
    assert not main.status_site.elided()
    assert not warning.elided() or warning.width() >= warning.keep_px, (warning.shown(), warning.width())
    assert main.status_integrity.shown().startswith("✓")


# ----- 5. file dialogs start in the folder last used for that kind -----------------------------------------------
def _answer_file_dialog(answer: Callable[[Any], None], seen: list[str]) -> QTimer:
    """When the file dialog shows: note the folder it starts in, then ``answer`` it (choose, or cancel)."""
    from PySide6.QtWidgets import QFileDialog

    timer = QTimer()
    timer.setInterval(20)

    def look() -> None:
        dialog = next((w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog) and w.isVisible()),
                      None)
        if dialog is None:
            return
        timer.stop()
        seen.append(dialog.directory().absolutePath())
        answer(dialog)

    timer.timeout.connect(look)
    timer.start()
    return timer


def _choose(path: Path) -> Callable[[Any], None]:
    def answer(dialog: Any) -> None:
        if path.is_dir():  # a folder: the dialog in it, chosen as it is
            dialog.setDirectory(str(path))
        else:
            dialog.selectFile(str(path))
        dialog.accept()
    return answer


def test_file_dialogs_start_in_the_folder_last_used_for_their_kind(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_sle_crf.ui import last_folders, printing

    monkeypatch.setenv("MSC_SLE_CRF_DATA_DIR", str(tmp_path / "data"))
    documents = tmp_path / "Documents"
    usb, pdfs = tmp_path / "USB-KEY", tmp_path / "pdfs"
    for folder in (documents, usb, pdfs):
        folder.mkdir()
    monkeypatch.setattr(printing, "documents_folder", lambda: documents)
    seen: list[str] = []
    timers: list[QTimer] = []  # kept alive until the dialog shows
    # Before: every dialog started in the documents (home) folder, whatever was chosen the time before.
    timers.append(_answer_file_dialog(_choose(usb), seen))
    assert printing.ask_folder(None, "Where to create the export folder", kind="export") == usb
    timers.append(_answer_file_dialog(_choose(pdfs / "casebook-QRS-001.pdf"), seen))
    assert printing.ask_path(None, "casebook-QRS-001.pdf") == pdfs / "casebook-QRS-001.pdf"
    # the next dialog of each kind starts where the last one was used; another kind does not
    timers.append(_answer_file_dialog(lambda d: d.reject(), seen))
    assert printing.ask_folder(None, "Where to create the export folder", kind="export") is None
    timers.append(_answer_file_dialog(lambda d: d.reject(), seen))
    assert printing.ask_path(None, "casebook-QRS-002.pdf") is None
    timers.append(_answer_file_dialog(lambda d: d.reject(), seen))
    assert printing.ask_folder(None, "Backup folder", kind="backup") is None
    assert seen == [str(documents), str(documents), str(usb), str(pdfs), str(documents)]
    # Kept in the program's settings file beside its data: folders only, no file name (a subject number), no data.
    stored = (tmp_path / "data" / last_folders.SETTINGS_FILE).read_text(encoding="utf-8")
    assert str(usb) in stored and str(pdfs) in stored
    assert "QRS" not in stored and ".pdf" not in stored
    # a folder named after a subject is not kept: the one above it is
    (pdfs / "01-003").mkdir()
    timers.append(_answer_file_dialog(_choose(pdfs / "01-003" / "casebook-01-003.pdf"), seen))
    assert printing.ask_path(None, "casebook-01-003.pdf") == pdfs / "01-003" / "casebook-01-003.pdf"
    stored = (tmp_path / "data" / last_folders.SETTINGS_FILE).read_text(encoding="utf-8")
    assert "01-003" not in stored and str(pdfs) in stored
    # a folder that is gone (the USB key taken out): back to the documents folder
    usb.rmdir()
    timers.append(_answer_file_dialog(lambda d: d.reject(), seen))
    printing.ask_folder(None, "Where to create the export folder", kind="export")
    assert seen[-1] == str(documents)


def test_the_export_dialogs_browse_starts_where_the_last_export_was_made(
        qtbot, admin: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_sle_crf.ui import printing
    from msc_sle_crf.ui.export_dialog import ExportDialog
    from msc_sle_crf.ui.ops import Ops

    monkeypatch.setenv("MSC_SLE_CRF_DATA_DIR", str(tmp_path / "data"))
    documents, usb = tmp_path / "Documents", tmp_path / "USB-KEY"
    documents.mkdir()
    usb.mkdir()
    monkeypatch.setattr(printing, "documents_folder", lambda: documents)
    seen: list[str] = []
    timers: list[QTimer] = []  # kept alive until the dialog shows
    dialog = ExportDialog(admin, Ops())
    qtbot.addWidget(dialog)
    timers.append(_answer_file_dialog(_choose(usb), seen))
    dialog._browse()
    assert dialog.target.text() == str(usb / "msc-sle-export")
    again = ExportDialog(admin, Ops())
    qtbot.addWidget(again)
    timers.append(_answer_file_dialog(lambda d: d.reject(), seen))
    again._browse()
    assert seen == [str(documents), str(usb)]
