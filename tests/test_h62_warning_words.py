"""h62: the warnings stored in English (automatic queries, "confirmed: ..." details) read in the reader's language."""

from __future__ import annotations

from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.trail_words import detail_text, warning_text

HIGH = "Temperature: 38.6 °C is unusually high (expected at most 38.0 °C): please confirm"
LABELS = {"Temperature": L("Temperature", "Température")}


def test_each_warning_shape_reads_in_french_with_the_form_labels() -> None:
    assert warning_text(HIGH, Lang.FR, LABELS) == \
        "Température : 38,6 °C est inhabituellement haut (attendu au plus 38,0 °C) : à confirmer"
    low = "Temperature: 34.0 °C is unusually low (expected at least 35.0 °C): please confirm"
    window = "Visit date: outside the visit window 01/01/2026 - 05/01/2026: please confirm"
    assert warning_text(f"{low}; {window}", Lang.FR, LABELS) == (
        "Température : 34,0 °C est inhabituellement bas (attendu au moins 35,0 °C) : à confirmer; "
        "Visit date : hors de la fenêtre de visite 01/01/2026 - 05/01/2026 : à confirmer")
    assert warning_text(HIGH, Lang.EN, LABELS) == HIGH
    assert warning_text("something a person typed", Lang.FR) == "something a person typed"


def test_the_trail_details_that_carry_a_warning_read_in_french() -> None:
    assert detail_text(f"confirmed: {HIGH}; = 38.6 °C", Lang.FR, labels=LABELS) == (
        "confirmé : Température : 38,6 °C est inhabituellement haut (attendu au plus 38,0 °C) : à confirmer; "
        "= 38,6 °C")
    assert detail_text(f"query #4 auto: {HIGH}", Lang.FR, labels=LABELS).startswith(
        "query n°4, ouverte automatiquement : Température : 38,6 °C est inhabituellement haut")
    assert detail_text(f"confirmed: {HIGH}", Lang.EN) == f"confirmed: {HIGH}"


def test_the_pdf_trail_says_a_confirmed_warning_in_french_with_the_form_labels() -> None:
    from msc_sle_crf.services.printing import _audit_row
    from msc_sle_crf.store.tables import AuditEvent

    from .forms_helpers import STUDY

    record = AuditEvent(action="data_entry", username="ide.fr", role="nurse", item="VSTEMP",
                        ts_utc="2026-11-25T09:00:00.000000Z", utc_offset_min=60, new_value="38.6",
                        detail=f"confirmed: {HIGH}")
    why = _audit_row(record, STUDY.forms["vital_signs"], Lang.FR)[-1]
    assert why.startswith("confirmé : Température : 38,6 °C est inhabituellement haut"), why
