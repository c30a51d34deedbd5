"""h60: a value hidden by a change made *after* completion stays stored, unseen, and is still used.

Values left in items whose show-if turned false are cleared when the form is marked complete
(services/entry.py ``mark_complete``). A form already complete is changed value by value (with a reason) and never
marked complete again, so an item hidden by such a change keeps its stored value: the screen and the PDF hide it,
yet the scores, the export and the signature still read it.

The physician's case: a corticosteroid recorded as stopped (Ongoing = No, End date 15/01/2026) is corrected to
"still ongoing" on the completed form. The End date disappears from the screen, but the mean prednisone dose of
the visit still counts the drug as stopped on 15/01.
"""

from __future__ import annotations

from decimal import Decimal

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus

from .conftest import make_user
from .forms_helpers import STUDY

ROW_VALUES = {"CSDRUG": "prednisone", "CSDOSE": "10", "CSROUTE": "PO", "CSPULSE": "N", "CSSTDAT": "01/01/2026",
              "CSONGO": "N", "CSENDAT": "15/01/2026"}


def _doctor(site: Site, admin: Workspace) -> Workspace:
    return Workspace.sign_in(site, "dr.h60", make_user(admin, "dr.h60", "investigator"), study=STUDY)


def _prednisone_mean(ws: Workspace, subject: str, event: str) -> Decimal | None:
    result = ws.overview.subject(subject).scores.per_visit[event]["prednisone_mean"]
    assert result.computable, result.text()
    return Decimal(str(result.value))


def test_an_end_date_hidden_after_completion_no_longer_counts(site: Site, admin: Workspace) -> None:
    dr = _doctor(site, admin)
    subject = dr.subjects.register("HID", 1980, "F").subject.subject_number
    dr.entry.save_item(FormRef(subject, "M0", "labs"), ("lb", 0, "LBDAT"), "01/06/2026", confirm=True)
    ref = FormRef(subject, "M0", "corticosteroids")
    row = dr.entry.add_row(ref, "cs").row
    for item, text in ROW_VALUES.items():
        dr.entry.save_item(ref, ("cs", row, item), text)
    dr.entry.mark_complete(ref)
    assert _prednisone_mean(dr, subject, "M0") == 0  # stopped in January: nothing in the weeks before June

    # The physician corrects the record on the completed form: the drug was never stopped.
    dr.entry.save_item(ref, ("cs", row, "CSONGO"), "Y", reason="source: still taking it")
    snapshot = dr.entry.open_form(ref)
    assert snapshot.status is FormStatus.COMPLETE
    assert not snapshot.state.visible(("cs", row, "CSENDAT"))  # the screen and the PDF no longer show an end date

    # ... so nothing may still read one: the score follows what the screen shows (fails now: 0, the drug is still
    # counted as stopped on 15/01), and the stored form holds no value the screen hides.
    assert _prednisone_mean(dr, subject, "M0") == Decimal(10)
    assert snapshot.state.hidden_with_value() == []
