"""Speed and memory of the form engine and its generated screens. Prints figures; asserts nothing.

    python benchmarks/bench_forms.py            # full run
    python benchmarks/bench_forms.py --smoke    # quick run for CI

Targets (issue 3): build and show a 150-item form <= 150 ms; validation per keystroke median <= 2 ms (only the
items that depend on the changed one are re-checked); memory with that form open (reported).
"""

from __future__ import annotations

import argparse
import gc
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

from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.formdef.definitions import EventDef, FormDef, StudyDef, StudyMeta  # noqa: E402
from msc_sle_crf.security.keyslots import KdfParams  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services.entry import FormRef  # noqa: E402
from msc_sle_crf.ui.common import STYLE  # noqa: E402
from msc_sle_crf.ui.form import FormWindow  # noqa: E402

FAST = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def big_form() -> FormDef:
    """150 items: 110 in one section (every type, ranges, a show-if every 10 items), 4 rows x 10 repeating."""
    types = ["integer", "decimal", "text", "date", "partial_date", "time", "choice", "yesno", "integer", "decimal"]
    items = []
    for n in range(110):
        t = types[n % len(types)]
        item: dict = {"id": f"I{n:03d}", "type": t, "label": {"en": f"Item {n} in English", "fr": f"Élément {n}"},
                      "required": n % 3 == 0}
        if t in ("integer", "decimal"):
            item.update({"hard_min": 0, "hard_max": 500, "soft_min": 10, "soft_max": 300, "unit": "mg"})
        if t == "decimal":
            item["precision"] = 1
        if t == "choice":
            item["codelist"] = "five"
        if t in ("date", "partial_date"):
            item["date_rules"] = ["not_future"]
        if n % 10 == 5 and n > 10:
            item["show_if"] = {"item": "I007", "op": "eq", "value": "Y"}
        items.append(item)
    items.append({"id": "SUMCALC", "type": "decimal", "precision": 1, "label": {"en": "BMI", "fr": "IMC"},
                  "calc": {"function": "bmi", "inputs": ["I001", "I000"]}})
    rows = [{"id": f"R{n:02d}", "type": "integer" if n % 2 else "decimal", "precision": None if n % 2 else 1,
             "label": {"en": f"Row item {n}", "fr": f"Ligne {n}"}, "hard_min": 0, "hard_max": 300,
             "soft_min": 20, "soft_max": 200} for n in range(10)]
    for r in rows:
        if r["precision"] is None:
            del r["precision"]
    return FormDef.model_validate({
        "id": "big", "version": "1", "label": {"en": "Largest form", "fr": "Plus grand formulaire"},
        "entry": "nursing",
        "codelists": {"five": {"items": [{"code": str(i), "label": {"en": f"Choice {i}", "fr": f"Choix {i}"}}
                                         for i in range(5)]}},
        "groups": [{"id": "main", "label": {"en": "Main", "fr": "Principal"}, "items": items},
                   {"id": "rows", "label": {"en": "Rows", "fr": "Lignes"}, "repeating": True, "items": rows}],
        "checks": [{"function": "diastolic_below_systolic", "items": ["R01", "R03"]}],
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    runs, keystrokes = (2, 60) if args.smoke else (10, 600)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    shipped = load_study()
    form = big_form()
    study = StudyDef(meta=StudyMeta(name="B", protocol="B", title=shipped.meta.title, version="1",
                                    scoring=shipped.meta.scoring,
                                    events=(EventDef(id="V1", label=shipped.meta.title, forms=("big",)),)),
                     forms={"big": form})
    with tempfile.TemporaryDirectory() as tmp:
        site, _, _ = Site.initialize(Path(tmp) / "b.crfdb", admin_username="admin", admin_full_name="A",
                                     admin_password="bench-secret-2026", kdf=FAST)
        admin = Workspace.sign_in(site, "admin", "bench-secret-2026")
        admin.accounts.add_user("nurse.b", "Nurse", "nurse", initial_password="bench-care-2026x",
                                must_change_password=False)
        services = Workspace.sign_in(site, "nurse.b", "bench-care-2026x", study=study)
        subject = services.subjects.register("ABC", 1980, "F").subject.subject_number
        entry = services.entry
        ref = FormRef(subject, "V1", "big")
        for _ in range(4):
            entry.add_row(ref, "rows")
        items = len(form.all_items()) + 10 * 3
        print(f"form: {len(form.all_items())} item definitions, {items} fields on screen (4 repeating rows)")

        gc.collect()
        before = rss_mib()
        build = []
        view = None
        for _ in range(runs):
            if view is not None:
                view.close()
                view.deleteLater()
                app.processEvents()
                QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
                gc.collect()
            start = time.perf_counter()
            window = FormWindow(services, ref)  # what a user opens: the form in a scrollable window
            window.resize(1280, 900)
            window.show()
            app.processEvents()  # first paint
            build.append((time.perf_counter() - start) * 1000)
            view = window
        after = rss_mib()
        print(f"build and show the largest form: median {statistics.median(build):.0f} ms, "
              f"first {build[0]:.0f} ms over {runs} (target <= 150 ms)")
        print(f"memory: RSS {after:.0f} MiB with the form open (+{after - before:.0f} MiB for the form)")

        assert view is not None
        view = view.view
        key = ("main", 0, "I001")
        texts = ["4", "45", "45,", "45,5", "45", "4", ""]
        engine, full = [], []
        for n in range(keystrokes):
            text = texts[n % len(texts)]
            start = time.perf_counter()
            view.state.set_text(key, text)
            engine.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            view.on_edited(key, text)  # engine + field states + encrypted typing buffer write
            full.append((time.perf_counter() - start) * 1000)
        print(f"keystroke, engine only: median {statistics.median(engine):.3f} ms, "
              f"p95 {sorted(engine)[int(0.95 * len(engine))]:.3f} ms (target median <= 2 ms)")
        print(f"keystroke, screen + typing buffer saved: median {statistics.median(full):.2f} ms, "
              f"p95 {sorted(full)[int(0.95 * len(full))]:.2f} ms")
        key = ("main", 0, "I000")
        commit = []
        for n in range(max(5, keystrokes // 20)):
            view.fields[key].editor.set_text(str(150 + n))
            view.on_edited(key, str(150 + n))
            start = time.perf_counter()
            view.commit(key)
            commit.append((time.perf_counter() - start) * 1000)
        print(f"commit one value (checked, stored, audited): median {statistics.median(commit):.1f} ms")
        view.close()
        site.close()


if __name__ == "__main__":
    main()
