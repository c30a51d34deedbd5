"""Issue 12, item 7: the signing dialog keeps what was typed after a wrong password; the history window shows its
When and Who columns whole."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from msc_sle_crf.audit import Action
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormView
from msc_sle_crf.ui.form.dialogs import HistoryDialog, SignDialog

from .conftest import make_user
from .forms_helpers import STUDY
from .test_form_ui import show, type_into


def test_a_wrong_password_keeps_the_signing_dialog_open_with_what_was_typed(qtbot, site: Site,
                                                                            admin: Workspace) -> None:
    password = make_user(admin, "dr.sig", "investigator")
    doctor = Workspace.sign_in(site, "dr.sig", password, study=STUDY)
    subject = doctor.subjects.register("ABC", 1980, "F").subject.subject_number
    ref = FormRef(subject, "SCR", "renal_function")
    doctor.entry.save_values(ref, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(ref)
    view = show(qtbot, FormView(doctor, ref, ask_reason=lambda *_a: "transcription error"))
    seen: dict[str, object] = {}

    def in_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SignDialog):
            QTimer.singleShot(30, in_dialog)
            return
        dialog.meaning.setCurrentIndex(dialog.meaning.count() - 1)
        meaning = dialog.meaning.currentData()
        dialog.username.setText("dr.sig")
        dialog.password.setText("wrong-password-9")
        dialog.sign_button.click()
        seen["open"] = dialog.isVisible()
        seen["error"] = dialog.error.text()
        seen["kept"] = (dialog.username.text(), dialog.meaning.currentData() == meaning, dialog.password.text())
        dialog.password.setText(password)
        dialog.sign_button.click()
        seen["closed"] = not dialog.isVisible()

    QTimer.singleShot(30, in_dialog)
    view.lifecycle_action("sign")
    qtbot.waitUntil(lambda: "closed" in seen, timeout=8000)
    assert seen["open"] is True
    assert seen["error"] == "Sign-in failed: wrong user name or password." or "\n" not in str(seen["error"])
    assert str(seen["error"]).startswith("Sign-in failed")
    assert seen["kept"] == ("dr.sig", True, "")  # user name and meaning kept; the password is typed again
    assert seen["closed"] is True and view.status == "signed"
    failed = [r for r in doctor.integrity.audit_trail(limit=500) if r.action == Action.SIGN_FAILED.value]
    assert failed  # the wrong password is audited


def test_the_history_shows_when_and_who_whole(qtbot, site: Site, admin: Workspace) -> None:
    doctor = Workspace.sign_in(site, "dr.historian-of-long-names",
                               make_user(admin, "dr.historian-of-long-names", "investigator"), study=STUDY)
    subject = doctor.subjects.register("ABC", 1980, "F").subject.subject_number
    ref = FormRef(subject, "SCR", "renal_function")
    view = show(qtbot, FormView(doctor, ref))
    type_into(qtbot, view, ("lb", 0, "CREAT"), "88")
    records = doctor.entry.item_history(ref, ("lb", 0, "CREAT"))
    long = records[-1]
    records = [*records, type(long)(**{**long.__dict__, "reason": "x " * 400, "new_value": "y " * 300})]
    dialog = HistoryDialog("Creatinine", records, view)
    qtbot.addWidget(dialog)
    dialog.show()
    table = dialog.table
    metrics = table.fontMetrics()
    for col in (0, 1):
        for row in range(table.rowCount()):
            text = table.item(row, col).text()
            assert table.columnWidth(col) >= metrics.horizontalAdvance(text), (col, text, table.columnWidth(col))
    assert table.item(0, 1).text() == "dr.historian-of-long-names (Investigator)"  # the role's name, not its code
    # Long texts wrap within their column instead of pushing When/Who out of view.
    assert table.horizontalHeader().length() <= table.viewport().width() + 2
