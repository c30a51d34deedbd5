"""h78: a "Reason for change" being typed when the lock comes (Ctrl+L or the idle lock) was lost: the question is
modal and closes as unanswered (h61: the value typed in the field is kept). Her reason's text is now kept as her own
encrypted draft and put back when the question is asked again (leaving the field after signing back in); answered
or cancelled, the draft is forgotten."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.ui.form.dialogs import ReasonDialog
from msc_sle_crf.ui.form.view_dialogs import reason_draft_key
from tests.conftest import make_user
from tests.realwin.test_h70_findings import _open_demographics as _open_form
from tests.test_h61_lock_form import WEIGHT, _open_demographics, _unlock

DETAIL = "Second weighing at the clinic, scale calibrated"  # typed key by key (QtTest types ASCII only)


def _reason_dialog() -> ReasonDialog | None:
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, ReasonDialog) and w.isVisible()), None)


def test_a_reason_being_typed_comes_back_after_the_lock(qtbot, site: Site, admin: Workspace,  # type: ignore[no-untyped-def]
                                                        db_path: Path) -> None:
    dr, password, ref, main, window = _open_demographics(qtbot, site, admin, "dr.rlk", complete=True)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    line = window.view.fields[WEIGHT].editor.focus_widget()
    line.setFocus()
    qtbot.waitUntil(line.hasFocus, timeout=2000)
    line.selectAll()
    qtbot.keyClicks(line, "70")
    seen: dict[str, object] = {}

    def type_then_lock() -> None:  # she picks "Other", types her reason; called away: Ctrl+L
        dialog = _reason_dialog()
        if dialog is None:
            QTimer.singleShot(50, type_then_lock)
            return
        dialog.choice.setCurrentIndex(dialog.choice.findData("other"))
        dialog.detail.setFocus()
        qtbot.keyClicks(dialog.detail, DETAIL)
        main.lock()
        seen["locked"] = True

    QTimer.singleShot(100, type_then_lock)
    window.view.commit(WEIGHT)  # leaving the field: the question (exec) closed by the lock
    qtbot.waitUntil(lambda: "locked" in seen, timeout=3000)
    assert main.stack.currentWidget() is main.lock_screen and _reason_dialog() is None
    label = window.view.fields[WEIGHT].item.label.get()
    files = [p for p in db_path.parent.rglob("*") if p.is_file()]
    assert files and not [p.name for p in files if DETAIL.encode() in p.read_bytes()]  # nothing in clear on disk
    _unlock(qtbot, main, password)
    assert window.view.fields[WEIGHT].editor.text() == "70"
    assert dr.drafts.load(reason_draft_key(ref, label)) == {"choice": "other", "detail": DETAIL}  # her own draft

    def look_then_answer() -> None:
        dialog = _reason_dialog()
        if dialog is None:
            QTimer.singleShot(50, look_then_answer)
            return
        seen["again"] = (dialog.choice.currentData(), dialog.detail.text())
        dialog.accept()

    QTimer.singleShot(100, look_then_answer)
    window.view.commit(WEIGHT)  # she leaves the field again: the same question
    # Fails on main: ('', '') - the question came back empty, her reason gone.
    assert seen["again"] == ("other", DETAIL)
    records = dr.entry.item_history(ref, WEIGHT)
    assert records[-1].new_value == "70" and records[-1].reason == DETAIL
    assert dr.entry.open_form(ref).typed == {}
    assert dr.drafts.load(reason_draft_key(ref, label)) is None  # answered: the draft is forgotten


def test_a_reason_being_typed_is_hers_again_after_another_user_took_over(  # type: ignore[no-untyped-def]
        qtbot, site: Site, admin: Workspace) -> None:
    _dr, password, ref, main, window = _open_demographics(qtbot, site, admin, "dr.rto", complete=True)
    window.view.fields[WEIGHT].editor.set_text("70")
    window.view.fields[WEIGHT].editor.edited.emit("70")
    seen: dict[str, object] = {}

    def type_then_lock() -> None:
        dialog = _reason_dialog()
        if dialog is None:
            QTimer.singleShot(50, type_then_lock)
            return
        dialog.choice.setCurrentIndex(dialog.choice.findData("other"))
        qtbot.keyClicks(dialog.detail, DETAIL)
        main.idle.idle.emit()  # the idle lock
        seen["locked"] = True

    QTimer.singleShot(100, type_then_lock)
    window.view.commit(WEIGHT)
    qtbot.waitUntil(lambda: "locked" in seen, timeout=3000)
    main._takeover("nurse.rto", make_user(admin, "nurse.rto", "nurse"))  # "Or another user takes over"
    qtbot.waitUntil(lambda: main.ws.actor.username == "nurse.rto", timeout=5000)
    main.lock()
    main._takeover("dr.rto", password)  # she is back; her form was closed at the takeover
    qtbot.waitUntil(lambda: main.ws.actor.username == "dr.rto" and main.stack.currentWidget() is main.work,
                    timeout=5000)
    window = _open_form(main, ref.subject)
    assert window.view.fields[WEIGHT].editor.text() == "70"  # her typing (h61)

    def look() -> None:
        dialog = _reason_dialog()
        if dialog is None:
            QTimer.singleShot(50, look)
            return
        seen["again"] = (dialog.choice.currentData(), dialog.detail.text())
        dialog.reject()  # she cancels this time: the old value is put back and her draft forgotten

    QTimer.singleShot(100, look)
    window.view.commit(WEIGHT)
    assert seen["again"] == ("other", DETAIL)
    assert main.ws.drafts.load(reason_draft_key(ref, window.view.fields[WEIGHT].item.label.get())) is None
