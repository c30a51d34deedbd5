"""h60: a row added to a signed form, then filled, changes the signed content without any "signature invalidated"
record; and until it is filled the form shows "In progress" under a signature still marked valid.

A change of a value of a signed form, or a row removed, audits ``signature_invalidated`` and sends the form back
to "complete" (services/entry.py ``_store_cell``, ``remove_row``). Adding a row sends it to "draft" with a status
change only (``add_row``); the values then typed in the row are entered into a *draft* form, so nothing records
that the signed content changed - the signature shows "INVALID: the data changed after signing" with no record in
the trail saying when or why.

Steps: corticosteroids at M0, one row filled, marked complete and signed; "+ Add a row" (with a reason), fill the
new row.
"""

from __future__ import annotations

from sqlalchemy import select

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import AuditEvent

from .conftest import make_user
from .forms_helpers import STUDY

ROW = {"CSDRUG": "prednisone", "CSDOSE": "10", "CSROUTE": "PO", "CSPULSE": "N", "CSSTDAT": "01/01/2026",
       "CSONGO": "Y"}


def _actions(ws: Workspace) -> list[str]:
    with ws.ctx.store.read() as session:
        return [a for (a,) in session.execute(select(AuditEvent.action).order_by(AuditEvent.id))]


def test_a_row_added_to_a_signed_form_audits_the_invalidation(site: Site, admin: Workspace) -> None:
    password = make_user(admin, "dr.nr", "investigator")
    dr = Workspace.sign_in(site, "dr.nr", password, study=STUDY)
    subject = dr.subjects.register("NRW", 1980, "F").subject.subject_number
    ref = FormRef(subject, "M0", "corticosteroids")
    first = dr.entry.add_row(ref, "cs").row
    for item, text in ROW.items():
        dr.entry.save_item(ref, ("cs", first, item), text)
    dr.entry.mark_complete(ref)
    dr.lifecycle.sign(ref, "dr.nr", password, "approval")
    assert dr.entry.open_form(ref).status is FormStatus.SIGNED

    second = dr.entry.add_row(ref, "cs", reason="second prescription found in the chart").row
    for item, text in {**ROW, "CSDRUG": "methylprednisolone", "CSDOSE": "8"}.items():
        dr.entry.save_item(ref, ("cs", second, item), text)
    [signature] = dr.lifecycle.signatures(ref)
    assert not signature.valid  # the signed content changed ...
    # ... and the trail says so (fails now: no 'signature_invalidated' record at all).
    assert "signature_invalidated" in _actions(dr)
