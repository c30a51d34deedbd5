"""Speed of signed PDF CRFs. Prints figures; asserts nothing.

    python benchmarks/bench_pdf.py            # full run
    python benchmarks/bench_pdf.py --smoke    # quick run for CI

Target (issue 6): a full 12-month casebook of one subject (about 40 form instances) with its audit appendix, signed,
in <= 2 s on this machine; the signing cost reported separately.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msc_sle_crf.clock import FakeClock  # noqa: E402
from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.i18n import current_lang  # noqa: E402
from msc_sle_crf.pdf import sign  # noqa: E402
from msc_sle_crf.pdf.render import CrfDocument  # noqa: E402
from msc_sle_crf.security.keyslots import KdfParams  # noqa: E402
from msc_sle_crf.services import Workspace  # noqa: E402
from msc_sle_crf.services.demo import create_demo  # noqa: E402
from msc_sle_crf.services.entry import FormRef  # noqa: E402


def timed(fn, runs: int) -> tuple[list[float], object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    runs = 1 if parser.parse_args().smoke else 5
    study = load_study()
    with tempfile.TemporaryDirectory() as tmp:
        site = create_demo(Path(tmp) / "pdf.crfdb", kdf=KdfParams(1, 1024, 1), clock=FakeClock(), study=study)
        printing = Workspace.sign_in(site, "dr.martin", "training-doctor").printing
        printing.certificate()
        forms, _pdf = timed(lambda: printing.form_pdf(FormRef("99-001", "M6", "selena_sledai")), runs)
        print(f"one form PDF, signed: median {statistics.median(forms) * 1000:.0f} ms")
        statuses = printing.entry.statuses("99-001")
        books, book = timed(lambda: printing.casebook_pdf("99-001", with_audit=True), runs)
        assert isinstance(book, bytes)
        pages = book.count(b"/Type /Page") - book.count(b"/Type /Pages")
        print(f"12-month casebook ({len(statuses)} form instances, audit appendix, ~{pages} pages, "
              f"{len(book) // 1024} KiB), signed: median {statistics.median(books):.2f} s (target <= 2 s)")
        prints = [printing._form_print(FormRef("99-001", e, f), with_audit=True) for e, f in statuses]
        unsigned = CrfDocument(printing.page_info(current_lang())).forms(prints)
        ca_pem, _ = printing.certificate()
        cert_pem = printing.personal_certificate()
        key = printing.ctx.site.signer("dr.martin").keys.pdf
        signing, _ = timed(lambda: sign.sign_with(unsigned, key, cert_pem, [ca_pem], reason="bench", location="x"),
                           runs * 2)
        print(f"signing cost alone (the printing user's ECDSA P-256 key and certificate, PAdES B-B): "
              f"median {statistics.median(signing) * 1000:.0f} ms")
        site.close()


if __name__ == "__main__":
    main()
