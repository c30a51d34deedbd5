"""The subject list and the subject dashboard on real trials (issue 13, item 6; issue 4).

    python benchmarks/bench_study.py            # the 500- and the 2,000-subject trials
    python benchmarks/bench_study.py --smoke    # the 20-subject trial, for CI

Subject list. Paths timed: (1) the main window of a user who has just signed in (new workspace) built, shown and
painted with its subject list (what the user waits for after signing in); (2) the list brought up to date on
screen after a value was saved somewhere (``Ops.announce(changes)`` of a real save, then its repaint). Floor,
interleaved with each: the raw SQL of the reads the list needs (subjects; every form's status; the visit dates, day 0
and end-of-study values; open query counts) on a raw sqlcipher3 connection, rows fetched. Target: <= 150 ms at 2,000
subjects.

Dashboard (issue 4): one subject's casebook dialog with every score opened and shown (target <= 200 ms); every score
of one subject's 12 months recomputed from data in memory (target <= 20 ms).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import Figure, env_offscreen, paired, quiet_qt, report

env_offscreen()

from dataset import DOCTOR, copy_of, trial  # noqa: E402
from PySide6.QtCore import QEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from sqlalchemy import select  # noqa: E402

from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.scoring.subject import compute  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services.entry import FormRef  # noqa: E402
from msc_sle_crf.store.tables import Subject  # noqa: E402
from msc_sle_crf.ui import main_window  # noqa: E402
from msc_sle_crf.ui.casebook import CasebookDialog  # noqa: E402
from msc_sle_crf.ui.common import STYLE  # noqa: E402
from msc_sle_crf.ui.main_window import MainWindow  # noqa: E402

# The full check run in the background after sign-in would share the CPU with what is timed here: not started.
main_window.CHECK_AFTER_SIGN_IN_MS = 10**9


def list_reads(conn: Any, date_items: list[str]) -> None:
    """The physical floor: the rows the subject list is made of, read with raw SQL."""
    marks = ",".join("?" * len(date_items))
    conn.execute("SELECT id, subject_number, initials, birth_year, sex, status, created_utc FROM subject "
                 "ORDER BY subject_number").fetchall()
    conn.execute("SELECT subject_id, event_id, form_id, status FROM form_instance").fetchall()
    conn.execute(f"SELECT fi.subject_id, fi.event_id, fi.form_id, iv.item_id, iv.value FROM item_value iv "
                 f"JOIN form_instance fi ON fi.id = iv.instance_id WHERE iv.item_id IN ({marks}) "
                 f"AND iv.value IS NOT NULL", date_items).fetchall()
    conn.execute("SELECT s.subject_number, count(*) FROM data_query q JOIN form_instance fi ON fi.id = q.instance_id "
                 "JOIN subject s ON s.id = fi.subject_id WHERE q.status != 'closed' GROUP BY s.subject_number"
                 ).fetchall()


def flush_deletes(app: QApplication) -> None:
    app.processEvents()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def subject_list(app: QApplication, n: int, runs: int, tmp: Path) -> list[Figure]:
    t = trial(n)
    folder = tmp / f"t{n}"
    folder.mkdir()
    site = Site.open(copy_of(t, folder))
    study = load_study()
    ws = Workspace.sign_in(site, *DOCTOR, study=study)
    bindings = study.bindings
    anchor = study.meta.anchor
    assert anchor is not None
    date_items = sorted({*bindings.visit_date_items, anchor.item, bindings.end_of_study.reason})
    conn = site.store.raw_connection()  # type: ignore[union-attr]
    windows: list[MainWindow] = []

    def close_all() -> None:
        while windows:
            w = windows.pop()
            w.close()
            w.deleteLater()
        flush_deletes(app)

    def first_shown() -> None:
        window = MainWindow(Workspace(site, ws.actor, study), idle_ms=10**9)
        windows.append(window)
        window.resize(1280, 800)
        window.show()
        app.processEvents()

    first = paired(Figure(f"subject list, {n} subjects: signed in, main window shown", target_ms=150,
                          path="MainWindow(new Workspace) resized 1280x800, show(), first paint",
                          floor_path="raw SQL of the list's reads (subjects, form statuses, visit dates/day 0/end "
                                     "of study, open queries), rows fetched"),
                   first_shown, lambda: list_reads(conn, date_items), runs, between=close_all)
    window = MainWindow(ws, idle_ms=10**9)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    ref = FormRef("99-007", "M12", "labs")
    toggle = [0]
    pending: list[Any] = []

    def save_somewhere() -> None:
        toggle[0] ^= 1
        pending.append(ws.entry.save_item(ref, ("lb", 0, "HGB"), "12.1" if toggle[0] else "12.3").changes)

    def after_change() -> None:
        window.ops.announce(pending.pop())
        app.processEvents()

    save_somewhere()
    update = Figure(f"subject list, {n} subjects: brought up to date after a save", target_ms=150,
                    path="Ops.announce(changes of save_item on 99-007) + repaint, main window open",
                    floor_path="raw SQL of the list's reads, rows fetched")
    for _ in range(runs):
        from harness import timed_ms

        update.values.append(timed_ms(after_change))
        update.floor.append(timed_ms(lambda: list_reads(conn, date_items)))
        save_somewhere()
    window.ops.announce(pending.pop())
    figures = [first, update]
    if n == 500 or n <= 100:
        figures += dashboard(app, ws, window, runs)
    window.close()
    flush_deletes(app)
    conn.close()
    site.close()
    return figures


def dashboard(app: QApplication, ws: Workspace, window: MainWindow, runs: int) -> list[Figure]:
    def open_dashboard() -> None:
        dialog = CasebookDialog(ws, "99-001", window)
        dialog.show()
        app.processEvents()
        dialog.close()
        dialog.deleteLater()

    dash = paired(Figure("subject dashboard (12 months, every score) opened and shown", target_ms=200,
                         path="CasebookDialog(ws, '99-001').show() + first paint"), open_dashboard, None, runs)
    overview = ws.overview
    with ws.ctx.store.read() as session:
        subject = session.execute(select(Subject).where(Subject.subject_number == "99-001")).scalar_one()
        data, _ = overview.load(session, subject)
    today = ws.ctx.local_now().date()
    study = ws.study
    scores = paired(Figure("every score of one subject's 12 months recomputed", target_ms=20,
                           path="scoring.subject.compute(data in memory)"),
                    lambda: compute(data, study.bindings, overview.day0, study.meta.scoring, today=today), None,
                    runs * 5)
    return [dash, scores]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (3 if args.smoke else 10)
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    quiet_qt()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        for n in ((20,) if args.smoke else (500, 2000)):
            figures += subject_list(app, n, runs, Path(tmp_name))
    report("bench_study", figures)


if __name__ == "__main__":
    main()
