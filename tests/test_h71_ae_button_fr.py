"""h71: on the French bedside, a reading's flag offered "Événement indésirable : Fever…" - an English word alone on
a French screen. CTCAE v5.0 has no official French term list: the button keeps the official term (what the
adverse-event form records) and adds the French words that find it in the term search ("fièvre, hyperthermie")."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton

from msc_sle_crf.formdef import load_study
from msc_sle_crf.i18n import L, Lang, set_lang
from msc_sle_crf.infusion.vitals import Flag
from msc_sle_crf.ui.bedside.vitals_panel import VitalsPanel


def _ae_buttons(panel: VitalsPanel) -> list[str]:
    return [b.text() for b in panel.findChildren(QPushButton) if b.objectName() == "aeButton" and b.isVisibleTo(panel)]


def test_the_adverse_event_button_of_a_flag_says_the_term_in_french_too(qtbot) -> None:  # type: ignore[no-untyped-def]
    flag = Flag("fever", L("Temperature 38.6 °C", "Température 38,6 °C"), "Fever", 1)
    try:
        set_lang(Lang.FR)
        panel = VitalsPanel(load_study().bindings.infusion_day.vital_signs)
        qtbot.addWidget(panel)
        panel.show_flags([flag])
        assert _ae_buttons(panel) == ["Événement indésirable : Fever (fièvre, hyperthermie)…"]
        set_lang(Lang.EN)
        panel.show_flags([flag])
        assert _ae_buttons(panel) == ["Adverse event: Fever…"]
    finally:
        set_lang(Lang.EN)
