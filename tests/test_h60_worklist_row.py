"""h60: the monitor's worklist names the wrong reading of a query: "(row 2)" for a query on the first one.

``ui/worklist.item_place`` writes a repeating section's row as ``key[1] + 1``, as if stored row numbers started at
0; they start at 1 (services/entry.py ``add_row``) and are never reused. A query raised on card #1 of the vital
signs is listed as "Temperature (row 2)" - in the worklist and in the casebook's "Source verified" question - while
the form shows it on card #1, and card #2 (if there is one) holds another temperature.

Steps: the nurse enters one reading at D0 (card #1); the monitor raises a query on its temperature, then opens
Monitoring > Worklist.
"""

from __future__ import annotations

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.worklist import WorklistWindow

from .conftest import make_user
from .forms_helpers import STUDY


def test_the_worklist_names_the_reading_the_form_shows(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    nurse = Workspace.sign_in(site, "nurse.wl", make_user(admin, "nurse.wl", "nurse"), study=STUDY)
    monitor = Workspace.sign_in(site, "monitor.wl", make_user(admin, "monitor.wl", "monitor"), study=STUDY)
    subject = nurse.subjects.register("WKL", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.entry.add_row(ref, "vs").row  # the first reading: card #1 on the form and "#1" on the PDF
    nurse.entry.save_item(ref, ("vs", row, "VSTEMP"), "37,2")
    monitor.monitoring.open_query(ref, ("vs", row, "VSTEMP"), "Please check against the chart.")

    window = WorklistWindow(monitor)
    qtbot.addWidget(window)
    window.show()
    places = [window.queries.item(r, 3).text() for r in range(window.queries.rowCount())]
    # Fails now: ['Temperature (row 2)']. (Whatever the wording, it is the first reading: 1, never 2.)
    assert len(places) == 1 and places[0].startswith("Temperature"), places
    assert "1" in places[0] and "2" not in places[0], places
