"""h62: a value hidden by a change on a completed form is cleared in the same transaction, audited with the
change's reason, and the trail still explains the stored data (``verify``)."""

from __future__ import annotations

from sqlalchemy import select

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import AuditEvent

from .atk_common import problems
from .conftest import make_user
from .forms_helpers import STUDY
from .test_h60_hidden_after_completion import ROW_VALUES


def test_the_hidden_end_date_is_cleared_with_the_reason_and_verifies(site: Site, admin: Workspace) -> None:
    dr = Workspace.sign_in(site, "dr.h62", make_user(admin, "dr.h62", "investigator"), study=STUDY)
    subject = dr.subjects.register("HCL", 1980, "F").subject.subject_number
    ref = FormRef(subject, "M0", "corticosteroids")
    row = dr.entry.add_row(ref, "cs").row
    for item, text in ROW_VALUES.items():
        dr.entry.save_item(ref, ("cs", row, item), text)
    dr.entry.mark_complete(ref)
    dr.entry.save_item(ref, ("cs", row, "CSONGO"), "Y", reason="source: still taking it")

    [cleared] = [r for r in dr.entry.item_history(ref, ("cs", row, "CSENDAT")) if r.action == "data_change"]
    assert (cleared.old_value, cleared.new_value, cleared.reason) == ("2026-01-15", None, "source: still taking it")
    assert cleared.detail == "not applicable (condition not met)"
    assert problems(site) == []
    # Undoing the correction shows the field again, empty: the end date must be entered again, not resurrected.
    dr.entry.save_item(ref, ("cs", row, "CSONGO"), "N", reason="wrong patient chart")
    snapshot = dr.entry.open_form(ref)
    assert snapshot.state.visible(("cs", row, "CSENDAT")) and snapshot.state.value(("cs", row, "CSENDAT")) is None
    assert problems(site) == []


def test_a_row_added_to_a_signed_form_is_audited_with_its_reason_and_verifies(site: Site, admin: Workspace) -> None:
    password = make_user(admin, "dr.h62s", "investigator")
    dr = Workspace.sign_in(site, "dr.h62s", password, study=STUDY)
    subject = dr.subjects.register("SRW", 1980, "F").subject.subject_number
    ref = FormRef(subject, "M0", "corticosteroids")
    row = dr.entry.add_row(ref, "cs").row
    for item, text in {**ROW_VALUES, "CSONGO": "Y", "CSENDAT": None}.items():
        if text is not None:
            dr.entry.save_item(ref, ("cs", row, item), text)
    dr.entry.mark_complete(ref)
    dr.lifecycle.sign(ref, "dr.h62s", password, "approval")
    dr.entry.add_row(ref, "cs", reason="second prescription in the chart")
    assert problems(site) == []
    with dr.ctx.store.read() as session:
        [(reason, detail)] = session.execute(select(AuditEvent.reason, AuditEvent.detail).where(
            AuditEvent.action == "signature_invalidated")).all()
    assert (reason, detail) == ("second prescription in the chart", "signed data changed: row added")
