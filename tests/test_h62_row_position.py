"""h62: a query's row is named as the form numbers its cards (#1, #2 ... among the rows not removed)."""

from __future__ import annotations

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .conftest import make_user
from .forms_helpers import STUDY


def test_a_row_after_a_removed_one_is_named_by_its_card(site: Site, admin: Workspace) -> None:
    nurse = Workspace.sign_in(site, "nurse.rp", make_user(admin, "nurse.rp", "nurse"), study=STUDY)
    subject = nurse.subjects.register("RPO", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    first, second = nurse.entry.add_row(ref, "vs").row, nurse.entry.add_row(ref, "vs").row
    assert [nurse.monitoring.row_position(ref, ("vs", r, "VSTEMP")) for r in (first, second)] == [1, 2]
    nurse.entry.remove_row(ref, "vs", first, "entered twice")
    assert nurse.monitoring.row_position(ref, ("vs", second, "VSTEMP")) == 1  # card #1 on the form now
    assert nurse.monitoring.row_position(ref, ("vs", first, "VSTEMP")) is None
