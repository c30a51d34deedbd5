"""Shared steps of the bedside screen tests: answer the window's question (its sheet), make a subject ready to start."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit

from msc_sle_crf.services import Workspace
from msc_sle_crf.services.bedside import BASELINE
from msc_sle_crf.ui.bedside import BedsideWindow
from tests.helpers.eligible import make_eligible

NORMAL = {"VSTEMP": "36,9", "VSHR": "78", "VSSYSBP": "126", "VSDIABP": "80", "VSRESP": "16", "VSSPO2": "98"}


def answer(window: BedsideWindow, *texts: str, confirm: bool = True) -> str:
    """Fill the open question's fields with ``texts`` and confirm it (or cancel); returns its text as asked."""
    sheet = window.sheet
    assert sheet.is_open, "no question is open"
    asked = sheet.text.text()
    for field, text in zip(sheet.fields, texts, strict=False):
        if isinstance(field, QComboBox):
            index = next((i for i in range(field.count()) if text in field.itemText(i)), -1)
            assert index >= 0, (text, [field.itemText(i) for i in range(field.count())])
            field.setCurrentIndex(index)
        elif isinstance(field, QLineEdit):
            field.setText(text)
    (sheet.confirm_button if confirm else sheet.cancel_button).click()
    return asked


def check_product(ws: Workspace, subject: str, *, use_by: str = "31/12/2099 16:00") -> None:
    ws.bedside.product_check(subject, identity_confirmed=True, weight_kg="58", cohort="2", bag_id="UC-1", lot="L1",
                             labelled_cells_e6="120", use_by=use_by, premedication="none")


def make_ready(ws: Workspace, subject: str, *, baseline: bool = True) -> None:
    """The screening criteria of the demo's subject 99-006 (confirmed eligible, its screening SELENA-SLEDAI and
    steroids not entered), the product check, a second person (the demo's investigator, or its nurse), the
    baseline."""
    derived = ws.overview.subject(subject).scores.overall["eligibility"]
    if not derived.computable:
        make_eligible(Workspace.sign_in(ws.site, "dr.martin", "training-doctor"), subject, screening=False)
    check_product(ws, subject)
    second = ("nurse.durand", "training-nurse") if ws.actor.username != "nurse.durand" else \
        ("dr.martin", "training-doctor")
    ws.bedside.second_check(subject, *second)
    if baseline:
        ws.bedside.record_vitals(subject, BASELINE, NORMAL)
