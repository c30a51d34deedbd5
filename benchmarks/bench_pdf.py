"""Signed PDF CRFs: one subject's 12-month casebook with its audit appendix (issue 13, item 6; issue 6).

    python benchmarks/bench_pdf.py            # in a copy of the 500-subject trial
    python benchmarks/bench_pdf.py --smoke    # in a copy of the 20-subject trial, for CI

Path timed: ``ws.printing.casebook_pdf('99-001', with_audit=True)``: every form of the subject followed to M12 read,
drawn (reportlab) with each form's audit trail, signed (PAdES B-B, ECDSA P-256). Target: <= 1 s. The signing alone
and one form's signed PDF are reported beside it (no physical floor: a casebook has no peer).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness import Figure, env_offscreen, paired, report

env_offscreen()

from dataset import DOCTOR, copy_of, trial  # noqa: E402

from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.i18n import current_lang  # noqa: E402
from msc_sle_crf.pdf import sign  # noqa: E402
from msc_sle_crf.pdf.render import CrfDocument  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services.entry import FormRef  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (2 if args.smoke else 7)
    with tempfile.TemporaryDirectory() as tmp:
        t = trial(20 if args.smoke else 500)
        site = Site.open(copy_of(t, Path(tmp)))
        ws = Workspace.sign_in(site, *DOCTOR, study=load_study())
        printing = ws.printing
        ca_pem, _ = printing.certificate()
        cert_pem = printing.personal_certificate()
        key = ws.ctx.site.signer(DOCTOR[0]).keys.pdf
        book = printing.casebook_pdf("99-001", with_audit=True)
        pages = book.count(b"/Type /Page") - book.count(b"/Type /Pages")
        forms = len(ws.entry.statuses("99-001"))
        casebook = paired(Figure("signed 12-month casebook with audit appendix", target_ms=1000,
                                 path="Printing.casebook_pdf('99-001', with_audit=True)",
                                 note=f"{forms} form instances, {pages} pages, {len(book) // 1024} KiB"),
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
    report("bench_pdf", [casebook, one, signing])


if __name__ == "__main__":
    main()
