"""``msc-sle-crf export`` and ``msc-sle-crf export-verify``: data out (issue 16).

    msc-sle-crf export --db trial.crfdb --user dr.martin --out /media/usb/msc-sle-2026-12-02 \\
        [--subject 01-003 ...] [--no-audit-trail] [--deidentified]
    msc-sle-crf export-verify DIR --fingerprint AB:CD:...      # or --db trial.crfdb --user NAME

The export is a new folder (an existing name is refused), written aside and renamed when complete; Ctrl+C leaves
nothing under the target name. ``export-verify`` checks every file against the signed manifest, and the manifest's
signature against the pinned site CA; exit 0 only if everything holds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msc_sle_crf.errors import Msg, StoreError, ValidationError
from msc_sle_crf.i18n import L


def add_export_commands(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    p = command("export", cmd_export, "export the trial's data: CDISC ODM 1.3.2, CSV datasets with a codebook and "
                "R/SAS scripts, the audit trail, a signed manifest", user=True, db=False)
    from msc_sle_crf.cli.hub import add_db_or_hub

    add_db_or_hub(p)  # a site, or the hub (issue 18)
    p.add_argument("--out", required=True, help="the folder to create (must not exist)")
    p.add_argument("--subject", action="append", metavar="NUMBER", help="only this subject (repeatable); default: all")
    p.add_argument("--no-audit-trail", action="store_true", help="leave out the audit trail (CSV and ODM archival)")
    p.add_argument("--deidentified", action="store_true",
                   help="no initials, no full names, dates of birth as the year only")
    p = command("export-verify", cmd_export_verify, "check an export folder against its signed manifest", db=False)
    p.add_argument("dir", help="the export folder")
    p.add_argument("--fingerprint", help="the site CA's SHA-256 fingerprint (as printed at init)")
    p.add_argument("--db", help="or: the site database, to read the fingerprint from and check the trail head")
    p.add_argument("--user", help="with --db: your user name")
    p.add_argument("--password-stdin", action="store_true", help="with --db: read your password from standard input")


def cmd_export(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import _ProgressLine, _say
    from msc_sle_crf.export import Cancelled, ExportOptions

    options = ExportOptions(subjects=tuple(args.subject or ()), audit_trail=not args.no_audit_trail,
                            deidentified=args.deidentified)
    from msc_sle_crf.cli.hub import open_services

    site, services, _ = open_services(args)  # a site, or the hub (--dsn)
    with site:
        services.export.require()
        services.export.check_target(args.out)  # before the long work: a refused target changes nothing
        line = _ProgressLine(L("Exporting", "Export"))
        last = [-1]

        def progress(done: int, total: int, what: L) -> None:
            percent = 100 * done // max(total, 1)
            if percent != last[0]:
                last[0] = percent
                line(L(f"{what.en} {percent} %", f"{what.fr} {percent} %"))

        try:
            result = services.export.export(Path(args.out), options, progress=progress)
        except (Cancelled, KeyboardInterrupt):
            raise StoreError(Msg.EXPORT_CANCELLED, path=args.out) from None
        line.done()
    _say(L(f"Export written: {result.folder} ({result.subjects} subject(s), {len(result.files)} files, "
           f"{result.audit_records} audit records; trail #{result.head[0]} {result.head[1]}).",
           f"Export écrit : {result.folder} ({result.subjects} patient(s), {len(result.files)} fichiers, "
           f"{result.audit_records} enregistrements d'audit ; piste #{result.head[0]} {result.head[1]})."))
    _say(L(f"Check it later with: msc-sle-crf export-verify {result.folder} --fingerprint <site CA>",
           f"Pour le vérifier : msc-sle-crf export-verify {result.folder} --fingerprint <AC du site>"))
    return 0


def cmd_export_verify(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import _open, _say
    from msc_sle_crf.export import manifest

    folder = Path(args.dir)
    if not folder.is_dir():
        raise ValidationError(Msg.INPUT_UNREADABLE, path=str(folder)[:300],
                              reason=L("not a folder", "ce n'est pas un dossier"))
    from msc_sle_crf.security.ca import given_fingerprint

    fingerprint = given_fingerprint(args.fingerprint) if args.fingerprint else None
    extra: list[str] = []
    if not fingerprint and args.db and args.user:
        site, services, _ = _open(args)
        with site:
            fingerprint = services.printing.ca_fingerprint()
            verdict = manifest.verify(folder, fingerprint)
            extra = services.export.check_head(verdict.manifest)
    elif not fingerprint:
        raise ValidationError(Msg.FIELD_REQUIRED, field=L("--fingerprint (or --db and --user)",
                                                          "--fingerprint (ou --db et --user)"))
    else:
        verdict = manifest.verify(folder, fingerprint)
    problems = verdict.problems + extra
    if problems:
        raise StoreError(Msg.EXPORT_VERIFY_FAILED, path=str(folder), problems="; ".join(problems[:20]) + (
            f"; … ({len(problems)} problems)" if len(problems) > 20 else ""))
    head = verdict.manifest.get("trail_head") or {}
    _say(L(f"{folder}: OK: {verdict.files} files match the manifest; signed by {verdict.signer} "
           f"({verdict.signer_name}) with a certificate of the site CA {fingerprint}; trail #{head.get('record_id')} "
           f"{head.get('record_hash')}.",
           f"{folder} : OK : {verdict.files} fichiers conformes au manifeste ; signé par {verdict.signer} "
           f"({verdict.signer_name}) avec un certificat de l'AC du site {fingerprint} ; piste "
           f"#{head.get('record_id')} {head.get('record_hash')}."))
    _ = sys
    return 0
