"""``msc-sle-crf selfcheck``: does this installation work, end to end? Meant for the frozen bundle on a ward laptop
(``packaging/smoke.sh`` runs it with no Python on PATH) and for a support call. In a temporary folder it compiles
the shipped forms, reads the CTCAE table, creates a TRAINING database (the migrations), signs in, saves a value and
finds its audit record, prints a signed PDF and checks it against the site CA, checks the whole trail, writes an
encrypted backup, and loads Qt's French translation. One line per check; exit 0 only if all pass.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from msc_sle_crf import __version__


def _checks(work: Path, state: dict[str, object]) -> list[tuple[str, Callable[[], str]]]:  # noqa: PLR0915 - a check each
    def forms() -> str:
        from msc_sle_crf.formdef import default_forms_dir, load_study

        study = load_study()
        state["study"] = study
        return f"{len(study.forms)} forms compiled from {default_forms_dir()}"

    def ctcae() -> str:
        from msc_sle_crf.scoring import ctcae as C

        return f"{len(C.catalogue())} CTCAE terms from {C.CSV_PATH.name}"

    def database() -> str:
        from msc_sle_crf.services.demo import create_demo

        db = work / "selfcheck.crfdb"
        site = create_demo(db, study=state["study"])  # type: ignore[arg-type]
        state["site"] = site
        return f"TRAINING database created and migrated ({db.stat().st_size // 1024} kB)"

    def sign_in() -> str:
        from msc_sle_crf.services import Workspace

        ws = Workspace.sign_in(state["site"], "dr.martin", "training-doctor",  # type: ignore[arg-type]
                               study=state["study"])  # type: ignore[arg-type]
        state["ws"] = ws
        return f"signed in as {ws.actor.username} ({ws.actor.role.value})"

    def save() -> str:
        from msc_sle_crf.services import Workspace
        from msc_sle_crf.services.entry import FormRef

        ws = state["ws"]
        assert isinstance(ws, Workspace)
        number = ws.subjects.register("SCK", 1980, "F").subject.subject_number
        ref = FormRef(number, "M0", "labs")
        state["ref"] = ref
        if not ws.entry.save_item(ref, ("lb", 0, "HGB"), "12.3").saved:
            raise RuntimeError("the value was not saved")
        last = ws.integrity.audit_trail(limit=1)[0]
        if (last.item, last.new_value, last.username) != ("HGB", "12.3", "dr.martin"):
            raise RuntimeError(f"the last audit record is not the save: {last.action} {last.item} {last.new_value}")
        return f"value saved and audited (record: {last.action} {last.item}={last.new_value} by {last.username})"

    def pdf() -> str:
        from msc_sle_crf.pdf import sign
        from msc_sle_crf.services import Workspace

        ws = state["ws"]
        assert isinstance(ws, Workspace)
        data = ws.printing.form_pdf(state["ref"])  # type: ignore[arg-type]
        verdict = sign.verify_pinned(data, ws.printing.ca_fingerprint())
        if not (verdict.intact and verdict.trusted):
            raise RuntimeError(f"the signed PDF does not verify: {verdict.reason}")
        return f"signed PDF ({len(data) // 1024} kB) verified: signed by {verdict.signer}"

    def verify() -> str:
        from msc_sle_crf.services import Workspace

        ws = state["ws"]
        assert isinstance(ws, Workspace)
        report = ws.integrity.verify(full=True)
        if not report.ok:
            raise RuntimeError("the integrity check failed")
        return f"pages, audit trail ({report.audit.records} records) and signatures intact"

    def backup() -> str:
        from msc_sle_crf.services import Workspace
        from msc_sle_crf.services.backup import create_backup, read_manifest

        ws = state["ws"]
        assert isinstance(ws, Workspace)
        out = create_backup(ws, work / "selfcheck.crfbak")
        head = read_manifest(out)["trail_head"]["record_id"]
        return f"encrypted backup written and read back (trail head #{head})"

    def french() -> str:
        from msc_sle_crf.ui import qt_i18n

        return qt_i18n.check_french()

    return [("forms", forms), ("ctcae", ctcae), ("database", database), ("sign-in", sign_in), ("save", save),
            ("pdf", pdf), ("verify", verify), ("backup", backup), ("french", french)]


def run(keep: Path | None = None) -> int:
    frozen = " (frozen bundle)" if getattr(sys, "frozen", False) else ""
    print(f"msc-sle-crf {__version__}{frozen}: self-check", flush=True)
    with tempfile.TemporaryDirectory(prefix="msc-sle-selfcheck-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        state: dict[str, object] = {}
        checks = _checks(work, state)
        failed = 0
        for name, check in checks:
            started = time.perf_counter()
            try:
                line = check()
            except Exception as exc:  # one line per failed check, then go on
                failed += 1
                print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
                if name in ("forms", "database", "sign-in"):
                    break
                continue
            print(f"ok   {name}: {line} [{(time.perf_counter() - started) * 1000:.0f} ms]", flush=True)
        site = state.get("site")
        close = getattr(site, "close", None)
        if close is not None:
            close()
    print(f"selfcheck: {'all checks passed' if not failed else f'{failed} check(s) FAILED'}", flush=True)
    return 0 if not failed else 1
