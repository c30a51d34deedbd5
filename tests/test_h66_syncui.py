"""h66: the conflict and packet screens after h63's new-user trial. The records a packet's import writes for a
conflict between workstations (``merge_conflict``, its automatic query) carry the user who applied the packet: the
history and the query window must not make it look as if that person changed the value; the conflict line of
``packet import`` in the user's language; the worklist's conflict query in local time."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from msc_sle_crf.cli import main
from msc_sle_crf.i18n import Lang, set_lang
from tests.helpers.packets import CREAT, PW, R1, make_pair

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _conflict_applied_by_admin(tmp_path: Any) -> Any:
    """dr.a changes R1's creatinine on B, then on A; the administrator applies B's packet on A."""
    pair = make_pair(tmp_path)
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "92", reason="lab report re-read on B")
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "90", reason="lab report re-read on A")
    b1 = pair.export("B")
    assert b1 is not None
    assert pair.import_("A", b1, user="admin").conflicts == 1
    return pair


@pytest.mark.parametrize("lang", [Lang.EN, Lang.FR])
def test_the_history_says_who_applied_the_conflict_not_who_changed(tmp_path, qtbot, lang) -> None:  # type: ignore[no-untyped-def]
    from tests.test_issue18_conflict_ui import form

    pair = _conflict_applied_by_admin(tmp_path)
    set_lang(lang)
    site, _ws, view = form(pair, qtbot)
    try:
        with site:
            view.show_history(CREAT)
            table = view.history_dialog.table
            cells = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
            view.close()
    finally:
        set_lang(Lang.EN)
    by_admin = [row for row in cells if "admin" in row[1]]
    assert by_admin, cells  # the conflict and its automatic query, written by the import
    applied = "conflit entre postes, appliqué par admin" if lang is Lang.FR else \
        "conflict between workstations, applied by admin"
    # failed before: "admin (Administrator)", as if the administrator had changed 92 to 90
    assert all(row[1].startswith(applied) for row in by_admin), by_admin
    assert any(row[1].startswith("dr.a") for row in cells), cells  # the changes themselves: their authors


def test_the_query_window_says_the_conflict_query_was_applied_by(tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    from tests.test_issue18_conflict_ui import form

    pair = _conflict_applied_by_admin(tmp_path)
    site, _ws, view = form(pair, qtbot, user="monitor.m")
    with site:
        view.show_queries(CREAT)
        text = view.query_dialog.text.toPlainText()
        view.close()
    # failed before: "... · opened automatically · admin" (the administrator did not open it: the conflict did)
    assert "conflict between workstations, applied by admin" in text, text


def test_packet_import_says_the_conflict_in_french(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    pair = make_pair(tmp_path)
    site, ws = pair.open("B")
    with site:
        ws.entry.save_item(R1, CREAT, "92", reason="lab report re-read on B")
    site, ws = pair.open("A")
    with site:
        ws.entry.save_item(R1, CREAT, "90", reason="lab report re-read on A")
    b1 = pair.export("B")
    assert b1 is not None
    monkeypatch.setattr("sys.stdin", io.StringIO(PW["dr.a"] + "\n"))
    try:
        code = main(["--lang", "fr", "packet", "import", "--db", str(pair.a_db), "--user", "dr.a",
                     "--password-stdin", str(b1)])
    finally:
        set_lang(Lang.EN)
    out, err = capsys.readouterr()
    assert code == 0, err
    [line] = [x for x in out.splitlines() if x.startswith("  conflit")]
    # failed before: "  conflit : 01-001 / SCR / renal_function / CREAT (lb:0): '90' (WS-01) kept, '92' (WS-02) kept
    # beside it"
    assert line.startswith("  conflit : 01-001 / Sélection / Fonction rénale / Créatinine : « 90"), line
    assert "« 92" in line and "WS-02" in line and "kept" not in line and not ISO.search(line), line


def test_the_worklist_says_a_conflict_query_in_local_time(tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    from msc_sle_crf.ui.worklist import WorklistWindow

    pair = _conflict_applied_by_admin(tmp_path)
    site, ws = pair.open("A", "monitor.m")
    with site:
        window = WorklistWindow(ws)
        qtbot.addWidget(window)
        window.show()
        said = [window.queries.item(r, 7).text() for r in range(window.queries.rowCount())]
        window.close()
    assert len(said) == 1 and said[0].startswith("Conflict between workstations"), said
    assert not ISO.search(said[0]), said  # failed before: "(dr.a, 2026-11-25T09:02:00.000000Z)"


def test_the_pdf_trail_says_who_applied_the_conflict() -> None:
    from msc_sle_crf.services.printing import _audit_row
    from msc_sle_crf.store.tables import AuditEvent

    from .forms_helpers import STUDY

    form = STUDY.forms["renal_function"]
    merge = AuditEvent(action="merge_conflict", username="admin", role="admin", item="CREAT",
                       ts_utc="2026-11-25T09:00:00.000000Z", utc_offset_min=60, old_value="90", new_value="92",
                       detail='{"kind": "form", "from": "WS-02", "incoming": "complete"}')
    change = AuditEvent(action="data_change", username="dr.a", role="investigator", item="CREAT",
                        ts_utc="2026-11-25T09:00:00.000000Z", utc_offset_min=60, old_value="88", new_value="90",
                        reason="lab report re-read")
    # failed before: "admin (Administrateur)", as if the administrator had changed 90 to 92
    assert _audit_row(merge, form, Lang.FR)[1] == "conflit entre postes, appliqué par admin (Administrateur)"
    assert _audit_row(change, form, Lang.FR)[1].startswith("dr.a (")


def test_own_packets_are_named_as_this_workstations_and_counted_apart(tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The whole USB folder chosen in French: this workstation's own packets are said as its own, not refused."""
    from msc_sle_crf.ui.packets_dialog import PacketsDialog
    from tests.helpers.packets import PROTU, R2
    from tests.test_issue18_packets_ui import lines

    pair = make_pair(tmp_path)
    for which, ref, key, value in (("A", R1, CREAT, "90"), ("A", R1, PROTU, "0.5"), ("B", R2, CREAT, "95")):
        site, ws = pair.open(which)
        with site:
            ws.entry.save_item(ref, key, value, reason="re-read")
        assert pair.export(which) is not None
    chosen = sorted((tmp_path / "outbox").rglob("*.crfpkt"))
    assert len(chosen) == 3
    set_lang(Lang.FR)
    site, ws = pair.open("A")
    try:
        with site:
            dialog = PacketsDialog(ws)
            qtbot.addWidget(dialog)
            dialog.apply(chosen)
            qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
            got, summary = lines(dialog), dialog.step.text()
            dialog.close()
    finally:
        set_lang(Lang.EN)
    own = [line for line in got if "WS-01-0000" in line.split(" ")[0]]
    assert len(own) == 2 and all("paquet de ce poste (WS-01)" in line for line in own), got
    assert not any("refusé" in line or "non essayé" in line for line in got), got
    # failed before: "Paquets : 1 appliqué(s), 0 déjà appliqué(s), 1 refusé(s), 1 non appliqué(s). ..."
    assert summary.startswith("Paquets : 1 appliqué(s), 0 déjà appliqué(s), 0 refusé(s), 0 non appliqué(s), 2 de "
                              "ce poste"), summary
