"""Signed PDF CRFs: one subject's 12-month casebook with its audit appendix (issue 13, item 6; issue 6).

    python benchmarks/bench_pdf.py            # in a copy of the 500-subject trial
    python benchmarks/bench_pdf.py --smoke    # in a copy of the 20-subject trial, for CI

Path timed: ``ws.printing.casebook_pdf('99-001', with_audit=True)``: every form of the subject followed to M12 read,
drawn (reportlab) with each form's audit trail, signed (PAdES B-B, ECDSA P-256). Target: <= 1 s. The signing alone
and one form's signed PDF are reported beside it (no physical floor: a casebook has no peer).

The first casebook of a session is timed too, each in a new process after sign-in (A B A B): with the warm-up the
main window starts once it has painted (``pdf.warm_in_background``, waited for here as the user would be looking at
the window), and without it. Each is set against the next casebook in the same process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Figure, env_offscreen, paired, report, timed_ms

env_offscreen()

from dataset import DOCTOR, copy_of, trial  # noqa: E402

from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services.entry import FormRef  # noqa: E402

CASEBOOK = "Printing.casebook_pdf('99-001', with_audit=True)"


def child(db: Path, warm: bool) -> None:
    """One session in this new process: sign in, (warm up as the main window does,) the first casebook, the next."""
    site = Site.open(db)
    ws = Workspace.sign_in(site, *DOCTOR, study=load_study())
    if warm:
        from msc_sle_crf import pdf

        pdf.warm_in_background()
        pdf._warming[0].join()
    first = timed_ms(lambda: ws.printing.casebook_pdf("99-001", with_audit=True))
    second = timed_ms(lambda: ws.printing.casebook_pdf("99-001", with_audit=True))
    site.close()
    print(json.dumps([first, second]))


def first_of_session(db: Path, runs: int) -> list[Figure]:
    warmed = Figure("first casebook of a session, after the warm-up (new process)", target_ms=1000, path=CASEBOOK,
                    floor_path="the next casebook in the same process",
                    note="pdf.warm_in_background() waited for after sign-in, as the main window starts it on paint")
    cold = Figure("first casebook of a session without the warm-up (new process)", path=CASEBOOK,
                  floor_path="the next casebook in the same process")
    for _ in range(runs):
        for warm, fig in ((True, warmed), (False, cold)):
            proc = subprocess.run([sys.executable, __file__, "--child", str(db), *(["--warm"] if warm else [])],
                                  capture_output=True, text=True, check=True, timeout=600)
            first, second = json.loads(proc.stdout.strip().splitlines()[-1])
            fig.values.append(first)
            fig.floor.append(second)
    return [warmed, cold]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--sessions", type=int, help="new processes timed for the first casebook (each way)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.warm)
        return
    # Loaded here, not with the module: a --child process starts without reportlab or pyHanko, as the app does.
    from msc_sle_crf.i18n import current_lang
    from msc_sle_crf.pdf import sign
    from msc_sle_crf.pdf.render import CrfDocument

    runs = args.runs or (2 if args.smoke else 7)
    sessions = args.sessions or (1 if args.smoke else 3)
    with tempfile.TemporaryDirectory() as tmp:
        t = trial(20 if args.smoke else 500)
        db = copy_of(t, Path(tmp))
        site = Site.open(db)
        ws = Workspace.sign_in(site, *DOCTOR, study=load_study())
        printing = ws.printing
        ca_pem, _ = printing.certificate()
        cert_pem = printing.personal_certificate()
        key = ws.ctx.site.signer(DOCTOR[0]).keys.pdf
        book = printing.casebook_pdf("99-001", with_audit=True)
        pages = book.count(b"/Type /Page") - book.count(b"/Type /Pages")
        forms = len(ws.entry.statuses("99-001"))
        casebook = paired(Figure("signed 12-month casebook with audit appendix", target_ms=1000, path=CASEBOOK,
                                 note=f"{forms} form instances, {pages} pages, {len(book) // 1024} KiB, "
                                      f"{t.subjects} subjects, {t.audit_records:,} audit records"),
                          lambda: printing.casebook_pdf("99-001", with_audit=True), None, runs, warmup=1)
        one = paired(Figure("one form's signed PDF with its audit trail",
                            path="Printing.form_pdf(FormRef('99-001','M6','selena_sledai'), with_audit=True)"),
                     lambda: printing.form_pdf(FormRef("99-001", "M6", "selena_sledai"), with_audit=True), None,
                     runs, warmup=1)
        statuses = ws.entry.statuses("99-001")
        prints = [printing._form_print(FormRef("99-001", e, f), with_audit=True) for e, f in statuses]
        unsigned = CrfDocument(printing.page_info(current_lang())).forms(prints)
        signing = paired(Figure("signing alone (the printing user's ECDSA P-256 key, PAdES B-B) of the casebook",
                                path="pdf.sign.sign_with(casebook bytes)"),
                         lambda: sign.sign_with(unsigned, key, cert_pem, [ca_pem], reason="bench", location="x"),
                         None, runs, warmup=1)
        site.close()
        first = first_of_session(db, sessions)
    report("bench_pdf", [casebook, one, signing, *first])


if __name__ == "__main__":
    main()
