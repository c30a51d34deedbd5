"""h72 (a statistician, untested remark): changing a value of a *signed* form without a reason was refused with
"the form is complete; a reason for the change is required" - the wrong state, and no word that the signature
will no longer be valid. The refusal now names the form's state and what the change undoes, in both languages."""

from __future__ import annotations

import pytest

from msc_sle_crf.errors import ValidationError
from msc_sle_crf.i18n import Lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus

from .conftest import make_user
from .forms_helpers import STUDY

ROW = {"CSDRUG": "prednisone", "CSDOSE": "10", "CSROUTE": "PO", "CSPULSE": "N", "CSSTDAT": "01/01/2026",
       "CSONGO": "Y"}


def test_a_change_to_a_signed_form_without_a_reason_says_signed_and_what_it_undoes(site: Site,
                                                                                   admin: Workspace) -> None:
    password = make_user(admin, "dr.sr", "investigator")
    dr = Workspace.sign_in(site, "dr.sr", password, study=STUDY)
    subject = dr.subjects.register("SRW", 1980, "F").subject.subject_number
    ref = FormRef(subject, "M0", "corticosteroids")
    row = dr.entry.add_row(ref, "cs").row
    for item, text in ROW.items():
        dr.entry.save_item(ref, ("cs", row, item), text)
    dr.entry.mark_complete(ref)
    with pytest.raises(ValidationError) as complete:
        dr.entry.save_item(ref, ("cs", row, "CSDOSE"), "12")
    assert "the form is complete; a reason for the change is required." in complete.value.message(Lang.EN)
    dr.lifecycle.sign(ref, "dr.sr", password, "approval")
    assert dr.entry.open_form(ref).status is FormStatus.SIGNED
    with pytest.raises(ValidationError) as signed:
        dr.entry.save_item(ref, ("cs", row, "CSDOSE"), "12")
    assert "the form is signed" in signed.value.message(Lang.EN)
    assert "signature will no longer be valid" in signed.value.message(Lang.EN)
    assert "le formulaire est signé" in signed.value.message(Lang.FR)
    assert "complete" not in signed.value.message(Lang.EN)
    with pytest.raises(ValidationError) as added:
        dr.entry.add_row(ref, "cs")
    assert "the form is signed" in added.value.message(Lang.EN)
    assert dr.entry.open_form(ref).status is FormStatus.SIGNED  # nothing changed by the refusals


DEMOGRAPHICS = {"BRTHDAT": "UK/06/1980", "ETHNIC": "NR", "HEIGHT": "165", "WEIGHT": "62,5", "CHILDPOT": "N"}


def test_the_reason_window_of_a_signed_form_says_the_signature_will_no_longer_be_valid(  # type: ignore[no-untyped-def]
        qtbot, site: Site, admin: Workspace) -> None:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    from msc_sle_crf.ui.form import FormView

    password = make_user(admin, "dr.sw", "investigator")
    dr = Workspace.sign_in(site, "dr.sw", password, study=STUDY)
    subject = dr.subjects.register("SWN", 1980, "F").subject.subject_number
    ref = FormRef(subject, "SCR", "demographics")
    for item, text in DEMOGRAPHICS.items():
        dr.entry.save_item(ref, ("dm", 0, item), text)
    dr.entry.mark_complete(ref)
    dr.lifecycle.sign(ref, "dr.sw", password, "approval")
    view = FormView(dr, ref)
    qtbot.addWidget(view)
    view.show()
    seen: list[str] = []

    def answer() -> None:  # the modal "Reason for change": read it, then Cancel
        dialog = QApplication.activeModalWidget()
        assert dialog is not None
        seen.extend(label.text() for label in dialog.findChildren(QLabel))
        dialog.reject()

    weight = view.fields[("dm", 0, "WEIGHT")].editor
    weight.setFocus()
    weight.selectAll()
    qtbot.keyClicks(weight, "70")
    QTimer.singleShot(0, answer)
    qtbot.keyClick(weight, Qt.Key.Key_Return)
    assert any("signature is no longer valid" in text for text in seen), seen
    assert dr.entry.open_form(ref).status is FormStatus.SIGNED  # cancelled: nothing changed
