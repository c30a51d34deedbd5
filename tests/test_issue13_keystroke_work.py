"""Issue 13, the keystroke (<= 2x a plain line edit's): what a key no longer does, and what it still shows.

The engine keeps a cell's issues when a re-check finds the same ones (a field then sees at a glance that nothing it
shows changed); the border drawn over a line edit is hidden, not emptied, when the style sheet's border shows (an
empty overlay was painted at every key); the badge shows its glyph as a picture identical to its text; the idle
lock stops watching for a moment after an input it has seen (no Python per key and per release).
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtTest import QTest

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .conftest import ADMIN_PW, make_user
from .forms_helpers import state_for


def test_a_recheck_that_finds_the_same_issues_keeps_them() -> None:
    s = state_for("vital_signs")
    key = ("vs", s.add_row("vs"), "VSTEMP")
    s.set_text(key, "37,22")  # too many decimals: a format issue
    first = s.issues(key)
    s.set_text(key, "37,29")  # the same rule, the same words
    assert s.issues(key) is first
    s.set_text(key, "37,")  # another format rule: a new issue
    assert s.issues(key) is not first and "a number is expected" in s.issues(key)[0].message.en
    s.set_text(key, "44")
    high = s.issues(key)
    assert [i.rule for i in high] == ["hard_max"]
    s.set_text(key, "44,0")  # the same value: re-checked, the same issue
    assert s.issues(key) is high
    s.set_text(key, "45")  # the message names the value: a new issue
    assert s.issues(key) is not high and "45 °C" in s.issues(key)[0].message.en
    s.set_text(key, "37,5")
    assert s.issues(key) == ()


def _vitals(qtbot: Any, site: Site, admin: Workspace, temperature: str | None = None) -> tuple[Any, Any]:
    from msc_sle_crf.ui.form.view import FormView

    nurse = Workspace.sign_in(site, "nurse.k", make_user(admin, "nurse.k", "nurse"))
    subject = nurse.subjects.register("ABC", 1980, "F").subject.subject_number
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.entry.add_row(ref, "vs").row
    key = ("vs", row, "VSTEMP")
    if temperature is not None:
        nurse.entry.save_values(ref, {key: temperature})
    view = FormView(nurse, ref)
    qtbot.addWidget(view)
    view.resize(1100, 800)
    view.show()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=3000)
    return view, key


class _Paints(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.seen += 1
        return False


def test_the_border_over_a_line_edit_is_hidden_when_the_style_sheet_draws_it(qtbot, site: Site,  # type: ignore[no-untyped-def]
                                                                              admin: Workspace) -> None:
    view, key = _vitals(qtbot, site, admin, "37.5")  # stored: the style sheet draws the "ok" border
    field = view.fields[key]
    edit = field.editor.focus_widget()
    edit.setFocus()
    QTest.keyClick(edit, Qt.Key.Key_End)
    QTest.keyClick(edit, Qt.Key.Key_Backspace)  # "37.": not a number, a red border over the line edit
    qtbot.wait(20)
    overlay = edit._overlay
    assert field.state == "hard" and overlay is not None and overlay.isVisible()
    QTest.keyClick(edit, Qt.Key.Key_5)  # "37.5" again: the style sheet's border
    assert field.state == "ok"
    assert not overlay.isVisible()
    paints = _Paints()
    overlay.installEventFilter(paints)
    QTest.keyClick(edit, Qt.Key.Key_Home)
    QTest.keyClick(edit, Qt.Key.Key_0)  # "037.5": still fine
    qtbot.wait(20)
    assert field.state == "ok" and edit.text() in ("037,5", "037.5")
    assert paints.seen == 0  # not painted at each key
    image = edit.grab().toImage()  # and the border on screen is the style sheet's green
    left = image.pixelColor(1, image.height() // 2)
    assert left.green() > left.red(), left.name()


def test_the_badge_shows_its_glyph_as_its_text_would(qtbot, site: Site, admin: Workspace) -> None:  # type: ignore[no-untyped-def]
    from msc_sle_crf.ui.form.style import set_colour

    view, key = _vitals(qtbot, site, admin)
    field = view.fields[key]
    edit = field.editor.focus_widget()
    edit.setFocus()
    for text, kind, glyph in (("44", "hard", "✕"), ("\b\b38,5", "soft", "!"), ("\b\b\b\b37", "ok", "✓")):
        for char in text:
            QTest.keyClick(edit, Qt.Key.Key_Backspace if char == "\b" else char)
        qtbot.wait(20)
        badge = field.badge
        assert field.state == kind and badge.text() == glyph
        assert badge.pixmap() is not None and not badge.pixmap().isNull()  # shown as a picture
        # ... which a screen reader cannot read: the state is its accessible name
        assert badge.accessibleName() == {"hard": "Not possible", "soft": "Unusual: please confirm",
                                          "ok": "OK"}[kind]
        picture = badge.grab().toImage()
        badge.setText(glyph)  # as it was drawn before: its text in the state's colour
        set_colour(badge, kind, bold=None, surface=field.surface)
        drawn = badge.grab().toImage()
        assert picture == drawn, kind


def test_typing_runs_no_python_of_the_idle_lock_at_every_key(qtbot, site: Site) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QLineEdit, QWidget

    from msc_sle_crf.ui.main_window import MainWindow

    main = MainWindow(Workspace.sign_in(site, "admin", ADMIN_PW), idle_ms=60_000)  # rests 1 s after an input
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    window = QWidget()
    qtbot.addWidget(window)
    edit = QLineEdit(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    edit.setFocus()
    calls: list[str] = []

    def profile(frame: Any, what: str, _arg: Any) -> None:
        if what == "call" and frame.f_code.co_name == "eventFilter" and "lock_screen" in frame.f_code.co_filename:
            calls.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        for _ in range(10):  # well within a second
            QTest.keyClick(window.windowHandle(), Qt.Key.Key_A)  # as the window system delivers it
    finally:
        sys.setprofile(None)
    assert edit.text() == "a" * 10
    assert len(calls) <= 2, len(calls)  # the first key seen (its press), then nothing until the rest ends
    assert main.idle.timer.remainingTime() > 50_000  # and that key deferred the lock
    qtbot.wait(1100)  # rested: watched again
    sys.setprofile(profile)
    try:
        QTest.keyClick(window.windowHandle(), Qt.Key.Key_A)
    finally:
        sys.setprofile(None)
    assert len(calls) >= 2
    main.close()
