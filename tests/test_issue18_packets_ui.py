"""Issue 18: the Packets screen runs off the UI thread. Progress is shown, the windows keep repainting, Cancel undoes
the packet under way completely (every table and the trail compared before/after), several packets are applied in
chain order with one line each, and nothing else of the program takes input while a packet runs. Real databases,
real packet files, shown windows, real mouse clicks and keys."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from msc_sle_crf.export.options import Cancelled
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site
from msc_sle_crf.sync import packets as P
from msc_sle_crf.sync.service import Packets, chain_order
from msc_sle_crf.ui.main_window import MainWindow
from msc_sle_crf.ui.packets_dialog import PacketsDialog

from .helpers.packets import Pair, make_pair
from .test_issue18_packets import edit_b, edit_offline, verify_clean


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return make_pair(tmp_path)


def every_row(site: Site) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the database (the trail included), through the open site's store."""
    conn = site.store.raw_connection()  # type: ignore[union-attr]
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}
    finally:
        conn.close()


def lines(dialog: PacketsDialog) -> list[str]:
    return [dialog.results.item(n).text() for n in range(dialog.results.count())]


def two_packets_from_b(pair: Pair) -> list[Path]:
    """B's packets 1 and 2 (the second one has a conflict with A's own edit)."""
    edit_offline(pair)
    first = pair.export("B")
    second = edit_b(pair, "97")
    assert first is not None and second is not None
    return [first, second]


# ----- the service: a cancel undoes everything ---------------------------------------------------------------------
def test_a_cancel_inside_the_import_statements_rolls_everything_back(pair: Pair,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = two_packets_from_b(pair)[0]
    real = P.import_packet
    returned: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        returned.append(True)
        return result

    monkeypatch.setattr(P, "import_packet", watched)
    site, ws = pair.open("A")
    with site:
        before = every_row(site)
        calls = [0]

        def cancelled() -> bool:  # SQLite's progress handler asks this while the import's statements run
            calls[0] += 1
            return calls[0] > 30

        with pytest.raises(Cancelled):
            Packets(ws.ctx, ws.study).import_file(path, cancelled=cancelled)
        assert not returned, "the cancel stopped a statement inside the import, before it finished"
        assert every_row(site) == before
        outcome = Packets(ws.ctx, ws.study).import_file(path)  # and it applies afterwards, whole
        assert outcome.result.copied > 0 and outcome.result.conflicts == 1
    verify_clean(pair, "A")


def test_a_cancel_heard_at_the_end_of_the_import_rolls_everything_back(pair: Pair,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = two_packets_from_b(pair)[0]
    stop = threading.Event()
    real = P.import_packet

    def then_cancel(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)  # everything written in the transaction, not committed
        stop.set()
        return result

    monkeypatch.setattr(P, "import_packet", then_cancel)
    site, ws = pair.open("A")
    with site:
        before = every_row(site)
        with pytest.raises(Cancelled):
            Packets(ws.ctx, ws.study).import_file(path, cancelled=stop.is_set)
        assert every_row(site) == before


def test_a_cancelled_export_writes_no_file_and_records_nothing(pair: Pair) -> None:
    edit_offline(pair)
    site, ws = pair.open("B")
    with site:
        before = every_row(site)
        calls = [0]

        def cancelled() -> bool:
            calls[0] += 1
            return calls[0] > 5

        with pytest.raises(Cancelled):
            Packets(ws.ctx, ws.study).export(pair.outbox / "usb", cancelled=cancelled)
        assert every_row(site) == before
        assert not (pair.outbox / "usb").exists() or list((pair.outbox / "usb").iterdir()) == []
        assert Packets(ws.ctx, ws.study).export(pair.outbox / "usb") is not None


def test_chain_order_reads_each_packets_header(pair: Pair, tmp_path: Path) -> None:
    first, second = two_packets_from_b(pair)
    junk = tmp_path / "AAA-not-a-packet.crfpkt"
    junk.write_bytes(b"hello")
    renamed = tmp_path / "0-second.crfpkt"  # a name that sorts first: the order comes from the header
    renamed.write_bytes(second.read_bytes())
    assert chain_order([junk, renamed, first]) == [first, renamed, junk]


def held_until_cancelled(dialog: PacketsDialog, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The real import, then held (its transaction open, everything written) until the screen's cancel is set; the
    event returned is set once the import is held."""
    real = P.import_packet
    inside = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        inside.set()
        deadline = time.monotonic() + 60
        while not dialog.cancel_event.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        return result

    monkeypatch.setattr(P, "import_packet", held)
    return inside


# ----- the screen --------------------------------------------------------------------------------------------------
def _window(pair: Pair, qtbot: Any) -> tuple[Site, MainWindow]:
    site, ws = pair.open("A")
    window = MainWindow(ws, idle_ms=10**9)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return site, window


def _open_packets(window: MainWindow, qtbot: Any) -> PacketsDialog:
    window.packets_action.trigger()
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, PacketsDialog) and w.isVisible())
    qtbot.waitExposed(dialog)
    return dialog


@pytest.mark.parametrize("lang", [Lang.EN, Lang.FR])
def test_cancel_on_screen_leaves_every_table_and_the_trail_as_before(pair: Pair, qtbot: Any,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     lang: Lang) -> None:
    first, second = two_packets_from_b(pair)
    set_lang(lang)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        real = P.import_packet
        inside = held_until_cancelled(dialog, monkeypatch)
        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_open_paths", lambda *a, **k: [second, first])
        before = every_row(site)
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        assert dialog.running and dialog.bar.isVisible() and dialog.cancel_button.isVisible()
        assert not dialog.import_button.isEnabled() and not dialog.export_button.isEnabled()
        qtbot.waitUntil(inside.is_set, timeout=60_000)
        # the UI thread is free: a timer of the UI thread fires and the windows repaint while the import runs
        ticks: list[int] = []
        timer = QTimer()
        timer.timeout.connect(lambda: ticks.append(1))
        timer.start(20)
        qtbot.waitUntil(lambda: len(ticks) >= 3, timeout=5_000)
        timer.stop()
        window.grab()
        dialog.grab()
        assert dialog.running
        step = dialog.step.text()
        assert (f"packet 1 of 2: {first.name}" in step) if lang is Lang.EN else \
            (f"paquet 1 sur 2 : {first.name}" in step)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        got = lines(dialog)
        assert every_row(site) == before, "data and trail exactly as before"
        if lang is Lang.EN:
            assert got == [f"{first.name}: cancelled: nothing of it was applied.",
                           f"{second.name}: not tried (cancelled)."]
        else:
            assert got == [f"{first.name} : annulé : rien de ce paquet n'a été appliqué.",
                           f"{second.name} : non essayé (annulé)."]
        assert dialog.close_button.isVisible() and dialog.close_button.isDefault()
        monkeypatch.setattr(P, "import_packet", real)
        # applied again, both, in chain order whatever the order chosen
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        got = lines(dialog)[2:]
        assert got[0].startswith(f"{first.name}: packet 1 of WS-02 applied" if lang is Lang.EN
                                 else f"{first.name} : paquet 1 de WS-02 appliqué"), got
        assert any(line.startswith(second.name) and ("packet 2" in line or "paquet 2" in line) for line in got)
        dialog.close()
    verify_clean(pair, "A")


def test_several_packets_one_line_each_refusals_and_not_tried(pair: Pair, qtbot: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = two_packets_from_b(pair)
    damaged = tmp_path / first.name
    data = bytearray(first.read_bytes())
    data[-5] ^= 0xFF  # packet 1 altered: refused; packet 2 comes after it: not tried
    damaged.write_bytes(bytes(data))
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        before = every_row(site)
        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_open_paths", lambda *a, **k: [second, damaged])
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        got = lines(dialog)
        assert got[0].startswith(f"Packet refused: {first.name} is damaged or was altered"), got
        assert got[1] == f"{second.name}: not tried: it follows {first.name}, refused above.", got
        assert len(got) == 2
        assert every_row(site) == before
        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_open_paths",
                            lambda *a, **k: [second, first, first])
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        got = lines(dialog)[2:]
        assert "packet 1 of WS-02 applied" in got[0] and "1 conflict(s)" in got[0], got
        assert got[1].startswith("  conflict: 01-001 / Screening / Renal function / Creatinine: “"), got
        assert "already imported on" in got[2] and got[2].startswith(first.name), got
        assert "packet 2 of WS-02 applied" in got[3], got
        assert len(got) == 4 or got[4].startswith("  conflict"), got
        dialog.close()


def test_nothing_else_takes_input_while_a_packet_runs(pair: Pair, qtbot: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Decided: the screen is application-modal. A click on the main window (opening a subject to save into it) or
    a key on it does nothing while the import holds the write transaction, and a second import cannot start."""
    first, _second = two_packets_from_b(pair)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        real = P.import_packet
        inside, release = threading.Event(), threading.Event()

        def held(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            inside.set()
            release.wait(60)
            return result

        monkeypatch.setattr(P, "import_packet", held)
        chosen: list[int] = []

        def choose(*_a: Any, **_k: Any) -> list[Path]:
            chosen.append(1)
            return [first]

        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_open_paths", choose)
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(inside.is_set, timeout=60_000)
        table = window.table
        # through the window system's queue (QTest on the QWindow), as a real click or key: Qt's modality applies
        cell = table.viewport().mapTo(window, table.visualRect(table.model().index(0, 0)).center())
        handle = window.windowHandle()
        QTest.mouseClick(handle, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, cell)
        QTest.mouseDClick(handle, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, cell)
        QTest.keyClick(handle, Qt.Key.Key_Return)
        QTest.keyClick(handle, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        qtbot.wait(200)
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)  # disabled: no second import
        qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter: the default button is not an import
        try:
            assert chosen == [1] and dialog.running
            assert window.stack.currentWidget() is window.work and not [
                w for w in QApplication.topLevelWidgets() if w.isVisible() and w not in (window, dialog)]
            assert QApplication.activeModalWidget() is dialog
        finally:
            release.set()
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        assert "packet 1 of WS-02 applied" in lines(dialog)[0]
        dialog.close()


def test_enter_closes_the_screen_and_never_writes_a_packet(pair: Pair, qtbot: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    edit_offline(pair)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        before = every_row(site)
        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_folder", lambda *a, **k: pair.outbox / "A")
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
        assert every_row(site) == before and not (pair.outbox / "A").exists()


def test_the_screen_fits_a_1280x800_laptop_in_french(pair: Pair, qtbot: Any) -> None:
    set_lang(Lang.FR)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        hint = dialog.sizeHint()
        assert hint.width() <= 1280 and hint.height() <= 760, hint
        assert dialog.width() <= 1280 and dialog.height() <= 760
        assert dialog.close_button.text() == "Fermer" and dialog.cancel_button.text() == "Annuler"
        dialog.close()


def _click_at(window: Any, widget: Any) -> None:
    """A real click (through the window system's queue) where ``widget`` is, whatever is there now."""
    QTest.mouseClick(window.windowHandle(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     widget.mapTo(window, widget.rect().center()))


def test_a_click_meant_for_cancel_after_the_end_keeps_the_report_on_screen(pair: Pair, qtbot: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen in a real window: the import ended a moment before the click on Cancel, the click landed on Close (same
    place) and the screen vanished with its report. Cancel now sits beside the bar, away from Close."""
    first, _second = two_packets_from_b(pair)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_open_paths", lambda *a, **k: [first])
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        assert dialog.cancel_button.isVisible()
        where = dialog.cancel_button.geometry()
        assert not where.intersects(dialog.close_button.geometry())
        spot = dialog.cancel_button.mapTo(dialog, dialog.cancel_button.rect().center())
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        QTest.mouseClick(dialog.windowHandle(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, spot)
        qtbot.wait(100)
        assert dialog.isVisible() and "packet 1 of WS-02 applied" in lines(dialog)[0]
        assert dialog.step.text().startswith("Packets: 1 applied, 0 already applied, 0 refused, 0 not applied.")
        dialog.close()


def test_locking_while_a_packet_runs_cancels_it_and_says_so(pair: Pair, qtbot: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The screen's own Lock button (the strip every window gets) while an import runs: the import is cancelled and
    undone (the lock's own trail record is all that is added), the screen hides, and shows the line when back."""
    first, _second = two_packets_from_b(pair)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        inside = held_until_cancelled(dialog, monkeypatch)
        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_open_paths", lambda *a, **k: [first])
        before = every_row(site)
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(inside.is_set, timeout=60_000)
        lock = next(b for b in dialog.findChildren(QPushButton) if b.text().startswith("Lock"))
        _click_at(dialog, lock)
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.lock_screen, timeout=60_000)
        qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        assert not dialog.isVisible()
        after = every_row(site)
        changed = {name for name in before if before[name] != after[name]}
        added = {name: [row for row in after[name] if row not in before[name]] for name in changed}
        # what the lock itself writes: its trail record (and the key file's generation), nothing of the packet
        assert changed <= {"audit_event", "site_setting", "sqlite_sequence"}, changed
        assert [row[6] for row in added["audit_event"]] == ["lock"], added
        assert [row[0] for row in added.get("site_setting", [])] in ([], ["keyfile_generation"]), added
        assert lines(dialog) == [f"{first.name}: cancelled: nothing of it was applied."]


def test_the_newest_line_is_in_view_and_times_are_the_wall_clock(pair: Pair, qtbot: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen in a real window: a second run's lines were below the fold (the list showed the first run's), and
    "already imported on 2026-12-02T16:16:42.286532Z" was the stored UTC text, not the dd/mm/yyyy wall clock."""
    first, _second = two_packets_from_b(pair)
    set_lang(Lang.FR)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_open_paths", lambda *a, **k: [first])
        for _ in range(40):
            qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        got = lines(dialog)
        assert len(got) >= 41 and got[-1].startswith(f"{first.name} : déjà importé le "), got
        assert re.search(r" déjà importé le \d\d/\d\d/\d{4} \d\d:\d\d UTC[+-]\d\d:\d\d \(paquet 1 de WS-02\)",
                         got[-1]), got[-1]
        qtbot.wait(50)
        view = dialog.results.viewport().rect()
        last = dialog.results.visualItemRect(dialog.results.item(dialog.results.count() - 1))
        assert not view.contains(dialog.results.visualItemRect(dialog.results.item(0))), "more lines than fit"
        assert view.contains(last), "the newest line is in view"
        dialog.close()


def test_the_main_window_closing_while_a_packet_runs_ends_it_undone_first(pair: Pair, qtbot: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The main window closes every screen it opened (``done``, not the close box) before the database closes: the
    import under way is cancelled and its transaction ended there, not left running against a closing database."""
    first, _second = two_packets_from_b(pair)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        inside = held_until_cancelled(dialog, monkeypatch)
        monkeypatch.setattr("msc_sle_crf.ui.packets_dialog.ask_open_paths", lambda *a, **k: [first])
        before = every_row(site)
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(inside.is_set, timeout=60_000)
        window.close()
        assert dialog._worker_idle.is_set(), "the import's job had returned when the screen went"
        assert not dialog.isVisible()
        assert every_row(site) == before


def test_the_choosers_start_where_the_last_packet_went(pair: Pair, qtbot: Any, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """Found by a new user: every chooser started in the home folder, and Enter, Enter put a packet there. The next
    chooser (writing or applying) now starts in the folder the last packet was written to (the USB key)."""
    import msc_sle_crf.ui.packets_dialog as screen

    monkeypatch.setattr(screen, "_last_folder", [""])
    edit_offline(pair)
    usb = tmp_path / "usb"
    usb.mkdir()
    starts: list[str] = []

    def folder(_parent: Any, _title: str, start: str = "") -> Path:
        starts.append(start)
        return usb

    def files(*_a: Any, start: str = "", **_k: Any) -> list[Path]:
        starts.append(start)
        return []

    monkeypatch.setattr(screen, "ask_folder", folder)
    monkeypatch.setattr(screen, "ask_open_paths", files)
    site, window = _window(pair, qtbot)
    with site:
        dialog = _open_packets(window, qtbot)
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.running and bool(lines(dialog)), timeout=60_000)
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        dialog.close()
    assert starts == ["", str(usb)] and list(usb.glob("*.crfpkt"))
