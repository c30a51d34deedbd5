"""``msc-sle-crf report``: the study's outcome tables and each cohort's safety review, for scripts.

    msc-sle-crf report safety --cohort 2 --db trial.crfdb --user dr.martin [--out review.pdf] [--provisional]
    msc-sle-crf report outcomes [--visit M6] --db trial.crfdb --user dr.martin [--out m6.csv] [--format csv]

The same content as the outcomes screen: plain text on standard output by default; ``--out`` writes a signed PDF
or a CSV (the format from ``--format`` or the file's extension), atomically, and the export is audited; an existing
file, the database or one of its files is never overwritten. A CSV on standard output (``--format csv`` without
``--out``) is audited too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L, Lang, current_lang, set_lang

FORMATS = ("pdf", "csv", "text")


def add_report_commands(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    from msc_sle_crf.cli.hub import add_db_or_hub

    report = sub.add_parser("report", help="the study's outcome tables and cohort safety reviews").add_subparsers(
        dest="report_command", required=True)
    p = command("safety", cmd_report_safety, "safety review of a dose cohort (toxicity per window, SAEs)",
                parent=report, user=True, db=False)
    add_db_or_hub(p)  # a site, or the hub (issue 18)
    p.add_argument("--cohort", required=True, help="dose cohort code, e.g. 1, 2 or 4 (x10^6 cells/kg)")
    p.add_argument("--provisional", action="store_true",
                   help="print the review before every subject is past D10, marked PROVISIONAL on every page")
    _output_options(p)
    p = command("outcomes", cmd_report_outcomes, "outcome tables by dose cohort and overall", parent=report,
                user=True, db=False)
    add_db_or_hub(p)  # a site, or the hub (issue 18)
    p.add_argument("--visit", help="one visit (e.g. M6); default: every visit")
    _output_options(p)


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="file to write (.pdf signed, .csv); default: text on standard output")
    p.add_argument("--format", choices=FORMATS, help="pdf, csv or text (default: from --out, else text)")
    p.add_argument("--lang", dest="report_lang", choices=["fr", "en"], help="language of the report")


def _format(args: argparse.Namespace) -> str:
    if args.format:
        if args.format == "pdf" and not args.out:
            raise ValidationError(Msg.REPORT_FORMAT_NEEDS_FILE, format="pdf")
        return str(args.format)
    if args.out:
        suffix = Path(args.out).suffix.lower().lstrip(".")
        return suffix if suffix in ("pdf", "csv") else "text"
    return "text"


def _run(args: argparse.Namespace, build: Callable[[Any], Any]) -> int:
    before = current_lang()
    if args.report_lang:
        set_lang(Lang(args.report_lang))
    try:
        return _write(args, build)
    finally:
        set_lang(before)


def _write(args: argparse.Namespace, build: Callable[[Any], Any]) -> int:
    from msc_sle_crf.audit import Action
    from msc_sle_crf.cli import _say
    from msc_sle_crf.cli.hub import open_services

    fmt = _format(args)
    if args.out and Path(args.out).exists():  # a script run twice must not replace yesterday's signed review
        raise ValidationError(Msg.OUTPUT_EXISTS, path=args.out)
    site, services, _secrets = open_services(args)  # a site, or the hub (--dsn)
    try:
        outcomes = services.outcomes
        report = build(outcomes)
        lang = current_lang()
        if fmt == "pdf":
            data = outcomes.pdf(report, provisional=getattr(args, "provisional", False), lang=lang)
        elif fmt == "csv":
            data = outcomes.csv(report, lang)
        else:
            data = outcomes.text(report, lang).encode("utf-8")
        if args.out:
            outcomes.write(data, Path(args.out), report, fmt)
            done = {"pdf": L(f"Signed PDF written: {args.out}", f"PDF signé écrit : {args.out}"),
                    "csv": L(f"CSV written: {args.out}", f"CSV écrit : {args.out}"),
                    "text": L(f"Report written: {args.out}", f"Rapport écrit : {args.out}")}[fmt]
            _say(done, sys.stderr)
        else:
            if fmt == "csv":
                services.integrity.record_export(Action.EXPORT, Path("standard-output"), f"{report.title.en} (csv)")
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        if not report.ready:
            _say(L("Not ready for the dose-escalation decision: ", "Pas prête pour la décision d'escalade de "
                   "dose : ").get() + "; ".join(w.get() for w in report.waiting), sys.stderr)
        return 0
    finally:
        site.close()


def cmd_report_safety(args: argparse.Namespace) -> int:
    return _run(args, lambda outcomes: outcomes.safety_review(args.cohort))


def cmd_report_outcomes(args: argparse.Namespace) -> int:
    return _run(args, lambda outcomes: outcomes.report(args.visit))
