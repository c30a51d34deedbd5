"""``msc-sle-crf hub ...``: the study's hub on a PostgreSQL server (issue 18, docs/workstations.md "The hub").

    msc-sle-crf hub init --dsn "postgresql://crf_owner@db.hospital/crf?sslmode=verify-full&sslrootcert=ca.crt" \\
        --from trial.crfdb --user admin --app-role crf_app --out /etc/msc-sle-crf/hub
    msc-sle-crf hub verify --dsn "postgresql://crf_app@db.hospital/crf?sslmode=verify-full&sslrootcert=ca.crt" \\
        --keys /etc/msc-sle-crf/hub/hub.keys
    msc-sle-crf hub ingest --dsn ... --keys .../hub.keys --user admin [--code] PACKET-SS-WS-02-0001.crfpkt ...

The DSN's password is never stored or shown: give it through libpq's environment (``PGPASSWORD``) or password file
(``PGPASSFILE``, ``~/.pgpass``). The connection must verify the server's certificate (``sslmode=verify-full`` or
``verify-ca``); anything else is refused before any connection. Your own password (the site's account) is asked
at the prompt or read from standard input (``--password-stdin``), as for every other command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msc_sle_crf.i18n import L


def add_hub_commands(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    hub = sub.add_parser("hub", help="the study's hub on a PostgreSQL server").add_subparsers(dest="hub_command",
                                                                                               required=True)
    dsn_help = ("PostgreSQL connection string with sslmode=verify-full (or verify-ca) and sslrootcert; the password "
                "from PGPASSWORD or PGPASSFILE, never here")
    p = command("init", cmd_hub_init, "make a new hub from a site database: schema (as the owner role), every row "
                "and the whole audit trail copied, the hub's key file and config written", parent=hub, db=False,
                user=True)
    p.add_argument("--dsn", required=True, help=dsn_help + " (the owner role, which runs the migrations)")
    p.add_argument("--from", dest="site", required=True, help="the site database (.crfdb); its key file beside it")
    p.add_argument("--app-role", required=True,
                   help="the application role (exists, LOGIN, least privilege): granted what the app needs, no more")
    p.add_argument("--out", required=True, help="folder for the hub's key file and config (hub.keys, hub.json)")
    p = command("upgrade", cmd_hub_upgrade, "bring the hub's schema to this program's version (as the owner role)",
                parent=hub, db=False)
    p.add_argument("--dsn", required=True, help=dsn_help + " (the owner role)")
    p.add_argument("--app-role", required=True, help="the application role given at hub init")
    p = command("verify", cmd_hub_verify, "re-compute the hub's audit chain and every signature, check the key "
                "file's anchor and the data against the trail (exit 0 only if all hold)", parent=hub, db=False)
    p.add_argument("--dsn", required=True, help=dsn_help)
    p.add_argument("--keys", required=True, help="the hub's key file (hub.keys)")
    p = command("ingest", cmd_hub_ingest, "apply workstation packets to the hub (the same rules as packet import)",
                parent=hub, db=False, user=True)
    p.add_argument("--dsn", required=True, help=dsn_help + " (the application role)")
    p.add_argument("--keys", required=True, help="the hub's key file (hub.keys)")
    p.add_argument("packets", nargs="+", metavar="PACKET", help="packet files (.crfpkt), applied in the order given")
    p.add_argument("--code", action="store_true",
                   help="ask the one-time code shown to the administrator of the workstation that renewed the site's "
                        "packet secret (a disable or 'Rotate keys' there)")


def _say(text: L | str, out: Any = None) -> None:
    from msc_sle_crf.cli import _say as say

    say(text, out)


def cmd_hub_init(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import Secrets
    from msc_sle_crf.errors import Msg, StoreError
    from msc_sle_crf.hub.init import init_hub
    from msc_sle_crf.hub.store import parse_dsn
    from msc_sle_crf.store.db import check_db_path

    parse_dsn(args.dsn)  # a DSN without certificate verification is refused before any question
    check_db_path(Path(args.site))
    if not Path(args.site).exists():
        raise StoreError(Msg.DB_NOT_FOUND, path=str(args.site))
    password = Secrets(args.password_stdin).ask(L(f"Password for {args.user} (on the site):",
                                                  f"Mot de passe de {args.user} (sur le site) :"))
    result = init_hub(args.dsn, Path(args.site), args.user, password, Path(args.out), args.app_role)
    _say(L(f"Hub created at {result.where}: {result.rows} rows copied, {result.records} audit records verified "
           f"({result.signatures_checked} signatures checked).",
           f"Hub créé sur {result.where} : {result.rows} lignes copiées, {result.records} enregistrements d'audit "
           f"vérifiés ({result.signatures_checked} signatures vérifiées)."))
    _say(L(f"Hub key file: {result.keys}; config: {result.config} (no password in either).",
           f"Fichier de clés du hub : {result.keys} ; configuration : {result.config} (aucun mot de passe "
           "dedans)."))
    return 0


def cmd_hub_upgrade(args: argparse.Namespace) -> int:
    from msc_sle_crf.hub import schema
    from msc_sle_crf.hub.store import HubStore, parse_dsn

    parse_dsn(args.dsn)
    with HubStore(args.dsn) as hub:
        before = schema.current_revision(hub)
        if before is None:
            schema.require_current(hub)  # not a hub: said in one line
        schema.upgrade(hub, args.app_role)
        after = schema.current_revision(hub)
    _say(L(f"Hub schema: {before} -> {after}" if before != after else f"Hub schema: already {after}",
           f"Schéma du hub : {before} -> {after}" if before != after else f"Schéma du hub : déjà {after}"))
    return 0


def cmd_hub_verify(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import say_trail_report
    from msc_sle_crf.hub.store import parse_dsn
    from msc_sle_crf.hub.verify import verify_hub

    parse_dsn(args.dsn)
    report = verify_hub(args.dsn, Path(args.keys))
    say_trail_report(report.audit, problems=report.anchor_problems, where=str(report.where),
                     not_checked=report.replay_problem or None, unexplained_total=report.unexplained_total,
                     unexplained=report.unexplained[:50])
    return 0 if report.ok else 6


def cmd_hub_ingest(args: argparse.Namespace) -> int:
    """Each packet in its own transaction on the hub, through the packet import (``sync.packets.import_packet``)."""
    from msc_sle_crf.cli import Secrets
    from msc_sle_crf.hub.ingest import ingest_packets
    from msc_sle_crf.hub.session import open_hub
    from msc_sle_crf.hub.store import parse_dsn

    parse_dsn(args.dsn)
    packets = [Path(p) for p in args.packets]
    secrets_ = Secrets(args.password_stdin)
    password = secrets_.ask(L(f"Password for {args.user}:", f"Mot de passe de {args.user} :"))
    code = secrets_.ask(L("One-time code of the site's packet secret:", "Code à usage unique du secret des paquets "
                          "du site :")) if args.code else None
    with open_hub(args.dsn, Path(args.keys), args.user, password) as hub:
        for path, line in ingest_packets(hub, packets, code):
            _say(L(f"{path.name}: {line.en}", f"{path.name} : {line.fr}"))
    return 0


def open_hub_services(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """``--dsn`` (with ``--keys``) for a command that works on a site: the hub's signed-in user's services."""
    from msc_sle_crf.cli import Secrets
    from msc_sle_crf.errors import ValidationError
    from msc_sle_crf.hub.session import open_hub
    from msc_sle_crf.hub.store import parse_dsn
    from msc_sle_crf.hub.workspace import hub_workspace

    parse_dsn(args.dsn)
    if not args.keys:
        from msc_sle_crf.errors import Msg

        raise ValidationError(Msg.FIELD_REQUIRED, field=L("--keys (with --dsn)", "--keys (avec --dsn)"))
    secrets_ = Secrets(args.password_stdin)
    password = secrets_.ask(L(f"Password for {args.user}:", f"Mot de passe de {args.user} :"))
    hub = open_hub(args.dsn, Path(args.keys), args.user, password)
    try:
        return hub, hub_workspace(hub, Path(args.keys)), secrets_
    except BaseException:
        hub.close()
        raise


def add_db_or_hub(p: argparse.ArgumentParser) -> None:
    """``--db`` (a site) or ``--dsn`` with ``--keys`` (the hub), for a command that reads the study's data."""
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="database file (.crfdb); its key file sits beside it")
    where.add_argument("--dsn", help="or: the study's hub (PostgreSQL, sslmode=verify-full; with --keys; the "
                       "password from PGPASSWORD or PGPASSFILE)")
    p.add_argument("--keys", help="with --dsn: the hub's key file (hub.keys)")


def open_services(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The signed-in user's services on the site (``--db``) or on the hub (``--dsn``)."""
    if getattr(args, "dsn", None):
        return open_hub_services(args)
    from msc_sle_crf.cli import _open

    return _open(args)  # type: ignore[no-any-return]
