"""Speed of the study views. Prints figures; asserts nothing.

    python benchmarks/bench_study.py            # 500 subjects
    python benchmarks/bench_study.py --smoke    # 50 subjects, for CI

Targets (issue 4): subject list and dashboard with 500 subjects and all their visits open in <= 200 ms;
recomputing every score of one subject's 12 months <= 20 ms.

The 500 subjects are copies of the TRAINING database's fully followed subject, written straight into the tables
(benchmark set-up only: real data always goes through the audited service layer).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from sqlalchemy import select  # noqa: E402

from msc_sle_crf.clock import FakeClock  # noqa: E402
from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.scoring.subject import compute  # noqa: E402
from msc_sle_crf.security.keyslots import KdfParams  # noqa: E402
from msc_sle_crf.services import Workspace  # noqa: E402
from msc_sle_crf.services.demo import create_demo  # noqa: E402
from msc_sle_crf.store.tables import FormInstance, FormRow, ItemValue, Subject  # noqa: E402
from msc_sle_crf.ui.casebook import CasebookDialog  # noqa: E402
from msc_sle_crf.ui.common import STYLE  # noqa: E402
from msc_sle_crf.ui.main_window import MainWindow  # noqa: E402


def clone_subjects(services: Workspace, count: int) -> None:
    with services.ctx.store.write() as session:
        source = session.execute(select(Subject).where(Subject.subject_number == "99-001")).scalar_one()
        instances = session.execute(select(FormInstance).where(FormInstance.subject_id == source.id)).scalars().all()
        values = {i.id: session.execute(select(ItemValue).where(ItemValue.instance_id == i.id)).scalars().all()
                  for i in instances}
        rows = {i.id: session.execute(select(FormRow).where(FormRow.instance_id == i.id)).scalars().all()
                for i in instances}
        for n in range(count):
            subject = Subject(subject_number=f"98-{n:04d}", initials="XYZ", birth_year=1980, sex="F",
                              status="screening", created_utc=source.created_utc, created_by=source.created_by)
            session.add(subject)
            session.flush()
            for inst in instances:
                copy = FormInstance(subject_id=subject.id, event_id=inst.event_id, form_id=inst.form_id,
                                    form_version=inst.form_version, form_hash=inst.form_hash, status=inst.status,
                                    created_utc=inst.created_utc, created_by=inst.created_by,
                                    updated_utc=inst.updated_utc)
                session.add(copy)
                session.flush()
                session.add_all([FormRow(instance_id=copy.id, group_id=r.group_id, row_no=r.row_no, removed=r.removed,
                                         created_utc=r.created_utc) for r in rows[inst.id]])
                session.add_all([ItemValue(instance_id=copy.id, group_id=v.group_id, row_no=v.row_no,
                                           item_id=v.item_id, value=v.value, unit=v.unit, canonical=v.canonical,
                                           missing_code=v.missing_code, missing_reason=v.missing_reason,
                                           confirmed=v.confirmed, updated_utc=v.updated_utc,
                                           updated_by=v.updated_by) for v in values[inst.id]])


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    count, runs = (50, 3) if args.smoke else (500, 10)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    study = load_study()
    with tempfile.TemporaryDirectory() as tmp:
        site = create_demo(Path(tmp) / "bench.crfdb", kdf=KdfParams(1, 1024, 1), clock=FakeClock(), study=study)
        services = Workspace.sign_in(site, "dr.martin", "training-doctor", study=study)
        start = time.perf_counter()
        clone_subjects(services, count - len(services.subjects.list()))
        overview = services.overview
        with services.ctx.store.read() as session:
            n_values = session.query(ItemValue).count()
        print(f"set-up: {count} subjects, {n_values} item values ({time.perf_counter() - start:.1f} s)")

        lists = timed(overview.subject_rows, runs)
        print(f"subject list read model ({count} subjects, next action each): median {statistics.median(lists):.0f} ms")
        window = MainWindow(services, idle_ms=10**9)
        window.resize(1280, 800)
        window.show()
        app.processEvents()
        shown = timed(lambda: (window.refresh(), app.processEvents()), runs)
        print(f"subject list on screen (refresh + paint): median {statistics.median(shown):.0f} ms "
              f"(target <= 200 ms)")

        def open_dashboard() -> None:
            dialog = CasebookDialog(services, "98-0100" if count > 100 else "98-0010", window)
            dialog.show()
            app.processEvents()
            dialog.close()
            dialog.deleteLater()

        dashboards = timed(open_dashboard, runs)
        print(f"subject dashboard (12 months, every score) open and shown: median {statistics.median(dashboards):.0f} "
              f"ms (target <= 200 ms)")
        with services.ctx.store.read() as session:
            subject = session.execute(select(Subject).where(Subject.subject_number == "99-001")).scalar_one()
            data, _ = overview.load(session, subject)
        today = services.ctx.local_now().date()
        pure = timed(lambda: compute(data, study.bindings, services.overview.day0, study.meta.scoring, today=today),
                     runs * 5)
        print(f"recompute every score of one subject's 12 months: median {statistics.median(pure):.1f} ms "
              f"(target <= 20 ms)")
        loaded = timed(lambda: overview.subject("99-001"), runs)
        print(f"... including reading its data from the encrypted database: median {statistics.median(loaded):.1f} ms")
        window.close()
        window.deleteLater()
        app.processEvents()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        site.close()


if __name__ == "__main__":
    main()
