"""Issue 18, what a user sees of a conflict between workstations, on shown windows (pytest-qt): the field's marker
opens a panel with both values, who, where and when; the history in words, in time order, with the workstation; the
marker leaves with the save that resolves it; the automatic query in the reader's language; a closed query cannot
be closed again; a subject handed over from its casebook; the status bar's record count follows the writes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from sqlalchemy import select

from msc_sle_crf.errors import ValidationError
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services.monitoring import CLOSED
from msc_sle_crf.store.tables import AuditEvent, QueryMessage
from msc_sle_crf.sync.service import Packets
from msc_sle_crf.sync.workstations import Workstations

from .test_issue18_packets import CREAT, R1, Pair, edit_offline, pair  # noqa: F401 - the fixture

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")  # a stored UTC time shown raw
LOCAL = re.compile(r"\b\d\d/\d\d/\d{4} \d\d:\d\d\b")


@pytest.fixture(params=[Lang.FR, Lang.EN])
def lang(request: Any) -> Iterator[Lang]:
    set_lang(request.param)
    yield request.param
    set_lang(Lang.EN)


def conflicted(pair: Pair) -> None:  # noqa: F811
    """A and B change R1's creatinine differently; B's packet applied on A, A's on B."""
    edit_offline(pair)
    from_b = pair.export("B")
    assert from_b is not None
    assert pair.import_("A", from_b).conflicts == 1
    from_a = pair.export("A")
    assert from_a is not None
    pair.import_("B", from_a)


def form(pair: Pair, qtbot: Any, which: str = "A", user: str = "dr.a") -> tuple[Any, Any, Any]:  # noqa: F811
    from msc_sle_crf.ui.form.view import FormView

    site, ws = pair.open(which, user)
    view = FormView(ws, R1)
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.show()
    qtbot.waitExposed(view)
    return site, ws, view


def click_conflict(qtbot: Any, label: Any) -> None:
    """A real click on the "⚠ Conflict" link, at the right end of the marks (the link is their last part)."""
    label.adjustSize()
    x = min(label.width(), label.sizeHint().width()) - 12
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton, pos=QPoint(x, label.height() // 2))


def test_the_conflict_marker_opens_both_values_with_who_where_when(pair: Pair, qtbot: Any, lang: Lang) -> None:  # noqa: F811
    conflicted(pair)
    site, _ws, view = form(pair, qtbot)
    with site:
        marks = view.fields[CREAT].marks
        assert ("⚠ Conflit" if lang is Lang.FR else "⚠ Conflict") in marks.text()
        click_conflict(qtbot, marks)
        qtbot.waitUntil(lambda: getattr(view, "conflict_panel", None) is not None and view.conflict_panel.isVisible(),
                        timeout=3000)
        panel = view.conflict_panel
        rows = [[panel.table.item(r, c).text() for c in range(panel.table.columnCount())] for r in range(2)]
        assert rows[0][:3] == ["90 µmol/L", "dr.a", "WS-01"] and rows[1][:3] == ["92 µmol/L", "dr.a", "WS-02"]
        assert all(LOCAL.fullmatch(r[3]) for r in rows), rows  # local dd/mm/yyyy HH:MM, not stored UTC
        assert ("motif" if lang is Lang.FR else "reason") in panel.todo.text()
        assert panel.enter_button.isVisible()
        panel.enter_button.click()  # "enter the right value": back to the field
        assert not panel.isVisible()
        view.activateWindow()
        qtbot.waitUntil(lambda: view.focused_key() == CREAT, timeout=3000)
        view.close()


def test_history_in_words_in_time_order_with_the_workstation(pair: Pair, qtbot: Any, lang: Lang) -> None:  # noqa: F811
    conflicted(pair)
    site, _ws, view = form(pair, qtbot)
    with site:
        view.show_history(CREAT)
        table = view.history_dialog.table
        heads = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
        where = heads.index("Poste" if lang is Lang.FR else "Workstation")
        what = heads.index("Quoi" if lang is Lang.FR else "What")
        cells = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
        text = json.dumps(cells, ensure_ascii=False)
        assert "merge_conflict" not in text and '{"' not in text and "canonical" not in text
        assert not ISO.search(text), text
        assert ("Conflit entre postes" if lang is Lang.FR else "Conflict between workstations") in \
            [row[what] for row in cells]
        # B's change (WS-02) was recorded after A's but copied here after it: the rows follow the time recorded
        assert "open" not in [cell for row in cells for cell in row]  # a query's state by its name, not its code
        stations = [row[where] for row in cells]
        assert "WS-01" in stations and "WS-02" in stations
        with site.store.read() as s:  # type: ignore[union-attr]
            times = {e.id: e.ts_utc for e in s.execute(select(AuditEvent).where(AuditEvent.item == "CREAT",
                                                                               AuditEvent.subject == "01-001"))
                     .scalars()}
        ordered = sorted(times.values())
        assert len(cells) == len(ordered)
        shown = [row[0] for row in cells]
        assert shown == sorted(shown, key=lambda t: (t[6:10], t[3:5], t[:2], t[11:]))
        view.close()


def test_the_marker_goes_with_the_save_that_resolves_it(pair: Pair, qtbot: Any) -> None:  # noqa: F811
    conflicted(pair)
    site, ws, view = form(pair, qtbot)
    with site:
        view.ask_reason = lambda *_a: "lab report re-read: 91"
        field = view.fields[CREAT]
        assert "Conflict" in field.marks.text()
        field.editor.set_text("91")
        view.state.set_text(CREAT, "91", field.unit())
        assert view.commit(CREAT), (view.last_error, field.message.text())
        # no reload, no show_monitoring: the save's change record redraws the marks
        assert "Conflict" not in field.marks.text()
        assert Packets(ws.ctx, None).conflicts(R1) == {}
        view.close()


def test_the_automatic_query_reads_in_the_users_language(pair: Pair, qtbot: Any, lang: Lang) -> None:  # noqa: F811
    conflicted(pair)
    site, _ws, view = form(pair, qtbot, user="monitor.m")
    with site:
        view.show_queries(CREAT)
        text = view.query_dialog.text.toPlainText()
        assert ("Conflit entre postes" if lang is Lang.FR else "Conflict between workstations") in text
        if lang is Lang.FR:
            assert "Conflict between" not in text and "recorded" not in text
        assert not ISO.search(text) and not re.search(r"\.\d{6}", text), text  # no ISO times with microseconds
        assert "WS-01" in text and "WS-02" in text and LOCAL.search(text)
        view.close()


def test_a_closed_query_is_not_closed_twice(pair: Pair, qtbot: Any) -> None:  # noqa: F811
    conflicted(pair)
    site, ws, view = form(pair, qtbot, user="monitor.m")
    with site:
        view.show_queries(CREAT)
        dialog = view.query_dialog
        assert dialog.close_button.isEnabled() and not dialog.reopen_button.isEnabled()
        dialog.close_button.click()
        assert dialog.queries[-1].status == CLOSED
        assert not dialog.close_button.isEnabled() and dialog.reopen_button.isEnabled()  # the action is unavailable
        query_id = dialog.queries[-1].id
        with pytest.raises(ValidationError) as refused:  # and the service refuses it in one line
            ws.monitoring.close(query_id, "again")
        assert refused.value.message(Lang.EN) == f"Query #{query_id} is already closed: nothing to close."
        assert refused.value.message(Lang.FR) == f"La query n°{query_id} est déjà close : rien à clore."
        with site.store.read() as s:  # type: ignore[union-attr]
            kinds = [m.kind for m in s.execute(select(QueryMessage).where(QueryMessage.query_id == query_id))
                     .scalars()]
        assert kinds.count("close") == 1
        view.close()


def test_hand_over_from_the_casebook_then_packet(pair: Pair, qtbot: Any, lang: Lang) -> None:  # noqa: F811
    from msc_sle_crf.ui.casebook import CasebookDialog
    from msc_sle_crf.ui.ops import Ops

    site, ws = pair.open("A", "nurse.n")
    with site:  # a nurse may not hand over (the command line's rule): no button
        book = CasebookDialog(ws, "01-001")
        qtbot.addWidget(book)
        book.show()
        assert not book.handover_button.isVisible()
        book.close()
    site, ws = pair.open("A")
    with site:
        book = CasebookDialog(ws, "01-001", ops=Ops())
        qtbot.addWidget(book)
        book.show()
        qtbot.waitExposed(book)
        assert book.handover_button.isVisible() and book.handover_button.isEnabled()
        book.handover_button.click()
        dialog = book.handover_dialog
        assert dialog.isVisible() and dialog.subject.text() == "01-001"
        steps = dialog.steps.text()
        assert steps.index("1.") < steps.index("2.") < steps.index("3.") and "WS-02" in steps
        assert not dialog.ok.isEnabled()  # the reason is required
        dialog.target.setCurrentIndex(dialog.target.findData("WS-02"))
        qtbot.keyClicks(dialog.reason, "consultation laptop")
        assert dialog.ok.isEnabled()
        dialog.ok.click()
        assert not dialog.isVisible()
        assert "WS-02" in book.owner_note.text() and not book.bedside_button.isEnabled()  # read-only here at once
        assert not book.handover_button.isEnabled()
        with site.store.read() as s:  # type: ignore[union-attr]
            record = s.execute(select(AuditEvent).where(AuditEvent.action == "subject_handover")).scalar_one()
        assert (record.subject, record.old_value, record.new_value, record.reason, record.username) == \
            ("01-001", "WS-01", "WS-02", "consultation laptop", "dr.a")
        book.close()
    packet = pair.export("A")
    assert packet is not None
    pair.import_("B", packet)
    site, ws = pair.open("B")
    with site:
        assert Workstations(ws.ctx).owns("01-001")


def test_an_administrator_finds_the_handover_in_the_administration_menu(pair: Pair, qtbot: Any) -> None:  # noqa: F811
    from msc_sle_crf.ui.main_window import MainWindow

    site, ws = pair.open("A", "admin")
    with site:
        window = MainWindow(ws, idle_ms=10**9)
        qtbot.addWidget(window)
        assert window.handover_action.isEnabled() and window.handover_action in window.admin_menu.actions()
        window.handover_action.trigger()
        [dialog] = [d for d in window.open_dialogs if d.objectName() == "handoverDialog"]
        qtbot.keyClicks(dialog.subject, "01-999")  # a subject that does not exist: one line, nothing typed lost
        dialog.target.setCurrentIndex(dialog.target.findData("WS-02"))
        qtbot.keyClicks(dialog.reason, "seen in consultation")
        dialog.ok.click()
        assert dialog.isVisible() and "01-999" in dialog.error.text() and "\n" not in dialog.error.text()
        assert dialog.reason.text() == "seen in consultation"
        dialog.subject.clear()
        qtbot.keyClicks(dialog.subject, "01-002")
        dialog.ok.click()
        assert not dialog.isVisible()
        window.close()
        with site.store.read() as s:  # type: ignore[union-attr]
            record = s.execute(select(AuditEvent).where(AuditEvent.action == "subject_handover")).scalar_one()
        assert (record.subject, record.new_value, record.reason, record.username) == \
            ("01-002", "WS-02", "seen in consultation", "admin")


def test_the_status_bar_count_follows_saves_and_imports(pair: Pair, qtbot: Any) -> None:  # noqa: F811
    from msc_sle_crf.ui.main_window import MainWindow
    from msc_sle_crf.ui.packets_dialog import PacketsDialog

    edit_offline(pair)
    from_b = pair.export("B")
    assert from_b is not None
    site, ws = pair.open("A")
    with site:
        window = MainWindow(ws, idle_ms=10**9)
        qtbot.addWidget(window)
        window.check_integrity()
        qtbot.waitUntil(lambda: window.integrity_report is not None and "intact" in window.status_integrity.text(),
                        timeout=30_000)

        def shown() -> int:
            return int(re.sub(r"\D", "", window.status_integrity.text().split("(")[1]))

        def stored() -> int:
            with site.store.read() as s:  # type: ignore[union-attr]
                return len(s.execute(select(AuditEvent.id)).all())

        assert shown() == stored()
        window.ops.run(lambda: ws.entry.save_item(R1, CREAT, "93", reason="re-read"))
        assert shown() == stored()
        dialog = PacketsDialog(ws, None, window.ops)
        qtbot.addWidget(dialog)
        dialog.apply([from_b])
        before = stored()
        qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)  # the import runs in the background
        assert stored() > before
        assert shown() == stored()
        window.close()


def test_a_change_announced_once_the_database_is_closed_is_ignored(pair: Pair, qtbot: Any) -> None:  # noqa: F811
    """A write finishing in the background (a packet import) after the log-out and the closing of the database (a
    restore closes it while the program runs) announced its change to the closed window: its subject list read the
    closed database (an assertion in Qt's event loop)."""
    from msc_sle_crf.services.changes import changes_of
    from msc_sle_crf.ui.main_window import MainWindow

    site, ws = pair.open("A")
    with site:
        window = MainWindow(ws, idle_ms=10**9)
        qtbot.addWidget(window)
        changes = changes_of(ws.entry.save_item(R1, CREAT, "93", reason="re-read"))
        assert changes.data
        window.ops.announce(changes)  # drawn while the window is open
        rows = window.table.rowCount()
        assert rows > 0
    window.ops.announce(changes)  # the database is closed: nothing read, no error
    window.close()
    window.ops.announce(changes)
    assert window.table.rowCount() == rows


def test_the_query_mark_opens_the_items_queries(pair: Pair, qtbot: Any) -> None:  # noqa: F811
    conflicted(pair)
    site, _ws, view = form(pair, qtbot)
    with site:
        marks = view.fields[CREAT].marks
        assert "Query (1)" in marks.text()
        qtbot.mouseClick(marks, Qt.MouseButton.LeftButton, pos=QPoint(12, marks.height() // 2))  # "Query (1)"
        qtbot.waitUntil(lambda: view.query_dialog is not None and view.query_dialog.isVisible(), timeout=3000)
        assert "Conflict between workstations" in view.query_dialog.text.toPlainText()
        view.close()
