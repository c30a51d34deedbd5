"""h60: "Remove row…" asks about a row by a number the screen gives to another row.

Row cards are numbered by position (#1, #2... : ui/form/sections.py, and the PDF does the same), but the
question asked before a removal names the row by its stored number, which is never reused (ui/form/writes.py
``remove_row``: f"#{row}"). Once a row has been removed, the two differ: clicking "Remove row…" on card #1 asks
"Why is “Readings” changed from “#2” to “(removed)”?" - and #2 is the card below. A nurse who meant to remove
card #2 and clicked the button of card #1 is told she is removing #2, confirms, and loses the other reading.

Steps: vital signs at D0 with three readings; the first removed (with a reason); the form now shows cards #1 and
#2; click "Remove row…" on card #1.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QPushButton

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormView

from .conftest import make_user
from .forms_helpers import STUDY


def test_the_removal_question_names_the_row_as_the_screen_does(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                               admin: Workspace) -> None:
    nurse = Workspace.sign_in(site, "nurse.rr", make_user(admin, "nurse.rr", "nurse"), study=STUDY)
    subject = nurse.subjects.register("ROW", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    rows = [nurse.entry.add_row(ref, "vs").row for _ in range(3)]
    for n, row in enumerate(rows):
        nurse.entry.save_item(ref, ("vs", row, "VSTEMP"), f"37,{n}")
    nurse.entry.remove_row(ref, "vs", rows[0], "entered twice")

    view = FormView(nurse, ref)
    qtbot.addWidget(view)
    asked: list[tuple[str, str, str]] = []
    view.ask_reason = lambda field, old, new: asked.append((field, old, new)) or None  # type: ignore[method-assign]
    view.show()
    cards = [c for c in view.findChildren(QFrame) if c.objectName() == "rowCard"]
    first = cards[0]
    title = next(label.text() for label in first.findChildren(QLabel) if label.text().startswith("<b>#"))
    assert title == "<b>#1</b>"  # the card the nurse sees first, holding the reading 37,1 (stored row 2)
    assert first.isAncestorOf(view.fields[("vs", rows[1], "VSTEMP")])
    button = next(b for b in first.findChildren(QPushButton) if b.objectName() == "removeRow")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    assert len(asked) == 1
    # Fails now: "#2", the number the screen shows on the other card.
    assert asked[0][1] == "#1", asked
