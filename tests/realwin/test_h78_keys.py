"""h78: what a nurse with gloves (French, 1280x800) reported in real windows; one test per defect, each failing on main
as found (3 December 2026), with real key events on a shown form window.

1. A choice field (radio-style) could not be chosen by keyboard: the arrow keys moved the focus between the choices
   without choosing, typing a choice's first letter ("n" for Non, "o" for Oui) did nothing, and the footer spoke of
   Tab/Enter alone. Arrows now choose within the field (as Qt's exclusive radio groups do), a first letter picks the
   matching choice, Space the one with the focus; Enter still moves on, Tab still leaves the field.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from msc_sle_crf.i18n import Lang, current_lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.ui.form import FormWindow
from tests.conftest import make_user
from tests.forms_helpers import STUDY

CHILDPOT = ("dm", 0, "CHILDPOT")


def _demographics(qtbot, site: Site, admin: Workspace, name: str):  # type: ignore[no-untyped-def]
    nurse = Workspace.sign_in(site, name, make_user(admin, name, "investigator"), study=STUDY)
    subject = nurse.subjects.register(name[-3:].upper(), 1980, "F").subject.subject_number
    ref = FormRef(subject, "SCR", "demographics")
    window = FormWindow(nurse, ref)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    field = window.view.fields[CHILDPOT]
    first = field.editor.focus_widget()
    first.setFocus()
    qtbot.waitUntil(first.hasFocus, timeout=2000)
    return nurse, ref, window, field


def _saved(nurse: Workspace, ref: FormRef) -> str | None:
    history = nurse.entry.item_history(ref, CHILDPOT)
    return history[-1].new_value if history else None


def _key(qtbot, key: Qt.Key, text: str = "") -> None:  # type: ignore[no-untyped-def]
    """A key pressed where the focus is (as the keyboard does)."""
    qtbot.keyClick(QApplication.focusWidget(), key)


def test_the_arrow_keys_choose_within_a_choice_field(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    nurse, ref, _window, field = _demographics(qtbot, site, admin, "dr.kar")
    buttons = field.editor.buttons
    _key(qtbot, Qt.Key.Key_Right)
    # Fails on main: the focus moved to "No" but nothing was chosen (text '').
    assert field.editor.text() == "N" and buttons["N"].hasFocus()
    assert _saved(nurse, ref) == "N"
    _key(qtbot, Qt.Key.Key_Down)
    assert field.editor.text() == "U" and buttons["U"].hasFocus()
    _key(qtbot, Qt.Key.Key_Left)
    _key(qtbot, Qt.Key.Key_Up)
    assert field.editor.text() == "Y" and buttons["Y"].hasFocus()
    assert _saved(nurse, ref) == "Y"


def test_a_first_letter_picks_the_matching_choice(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    nurse, ref, _window, field = _demographics(qtbot, site, admin, "dr.klt")
    labels = {code: button.text() for code, button in field.editor.buttons.items()}
    no = next(code for code, label in labels.items() if label[0].lower() == "n")
    _key(qtbot, Qt.Key.Key_N)
    # Fails on main: nothing chosen.
    assert field.editor.text() == no and field.editor.buttons[no].hasFocus()
    assert _saved(nurse, ref) == no
    _key(qtbot, Qt.Key.Key_Y if labels["Y"][0].lower() == "y" else Qt.Key.Key_O)
    assert field.editor.text() == "Y"
    _key(qtbot, Qt.Key.Key_Z)  # no choice starts with z: nothing changes
    assert field.editor.text() == "Y" and _saved(nurse, ref) == "Y"


def test_space_enter_and_tab_keep_their_meaning(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    nurse, ref, _window, field = _demographics(qtbot, site, admin, "dr.ksp")
    _key(qtbot, Qt.Key.Key_Space)
    assert field.editor.text() == "Y" and _saved(nurse, ref) == "Y"
    _key(qtbot, Qt.Key.Key_Return)  # Enter moves on: the focus leaves the field
    assert not field.isAncestorOf(QApplication.focusWidget())
    field.editor.buttons["Y"].setFocus()
    qtbot.waitUntil(field.editor.buttons["Y"].hasFocus, timeout=2000)
    _key(qtbot, Qt.Key.Key_Tab)  # Tab leaves the field (not the next choice)
    assert not field.isAncestorOf(QApplication.focusWidget())
    assert field.editor.text() == "Y"


def test_the_footer_says_how_to_choose_by_keyboard(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    _nurse, _ref, window, _field = _demographics(qtbot, site, admin, "dr.kft")
    hint = window.findChild(QLabel, "help")
    assert hint is not None
    # Fails on main: "Tab/Enter: next field · Ctrl+K: confirm · ..." (nothing on choices).
    assert "arrows" in hint.text() or "flèches" in hint.text()


def test_in_french_o_is_oui_and_i_is_inconnu(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    before = current_lang()
    set_lang(Lang.FR)
    try:
        nurse, ref, _window, field = _demographics(qtbot, site, admin, "dr.kfr")
        assert [b.text() for b in field.editor.buttons.values()] == ["Oui", "Non", "Inconnu"]
        _key(qtbot, Qt.Key.Key_I)
        assert field.editor.text() == "U"
        _key(qtbot, Qt.Key.Key_O)  # Fails on main: nothing chosen by a letter
        assert field.editor.text() == "Y" and _saved(nurse, ref) == "Y"
    finally:
        set_lang(before)
