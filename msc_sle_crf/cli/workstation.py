"""``msc-sle-crf workstation``: the laptops of one site (issue 18, docs/workstations.md).

    msc-sle-crf workstation add --db site.crfdb --user admin --out ws02.crfws [--number 2]
    msc-sle-crf workstation open ws02.crfws --db ws02.crfdb --user admin
    msc-sle-crf workstation show --db ws02.crfdb --user NAME
    msc-sle-crf workstation handover 01-203 --to WS-01 --reason "..." --db ws02.crfdb --user NAME
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msc_sle_crf.i18n import L


def add_workstation_commands(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    ws = sub.add_parser("workstation", help="the laptops of one site: add one, open it, show this one, hand a "
                        "subject over").add_subparsers(dest="workstation_command", required=True)
    p = command("add", cmd_add, "fork this database as another workstation of the site, delivered as one encrypted "
                "file (administrators)", parent=ws, user=True)
    p.add_argument("--out", required=True, help="the workstation file to write (carry it to the other laptop)")
    p.add_argument("--number", type=int, help="the workstation's number, 2-99 (default: the next free one)")
    p = command("open", cmd_open, "put a workstation file in place on its laptop as a new database (an "
                "administrator of the site signs in)", parent=ws, user=True)
    p.add_argument("file", help="the workstation file written by 'workstation add'")
    command("show", cmd_show, "this workstation: its id, subject numbers, row ids, fork point, subjects entered "
            "here", parent=ws, user=True)
    p = command("handover", cmd_handover, "give a subject's entry to another workstation (on its current owner; "
                "investigators and administrators)", parent=ws, user=True)
    p.add_argument("subject", help="subject number, e.g. 01-203")
    p.add_argument("--to", required=True, help="the workstation that takes it over, e.g. WS-02")
    p.add_argument("--reason", required=True, help="why (recorded in the audit trail)")


def cmd_add(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import _open, _say
    from msc_sle_crf.sync.workstations import Workstations

    site, services, _ = _open(args)
    with site:
        added = Workstations(services.ctx).add(services, Path(args.out), number=args.number)
        prefix = services.settings.get("site_number", "01")
    low, high = added.subject_range.split("-")
    _say(L(f"Workstation {added.ws} written: {added.path} (encrypted; subjects {prefix}-{low} to {prefix}-{high}). "
           f"On its laptop: msc-sle-crf workstation open {added.path.name} --db NEW.crfdb --user NAME",
           f"Poste {added.ws} écrit : {added.path} (chiffré ; patients {prefix}-{low} à {prefix}-{high}). Sur son "
           f"ordinateur : msc-sle-crf workstation open {added.path.name} --db NOUVELLE.crfdb --user NOM"))
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import Secrets, _say
    from msc_sle_crf.sync.workstations import open_fork

    secrets_ = Secrets(args.password_stdin)
    password = secrets_.ask(L(f"Password for {args.user} (as on the site's first laptop):",
                              f"Mot de passe de {args.user} (celui du premier poste du site) :"))
    opened = open_fork(Path(args.file), Path(args.db), args.user, password)
    _say(L(f"{opened.db_path} is now workstation {opened.ws} (subject numbers {opened.subject_range}; forked from "
           f"{opened.fork['ws']} at its record #{opened.fork['id']}); {opened.audit_records} audit records verified.",
           f"{opened.db_path} est maintenant le poste {opened.ws} (numéros de patients {opened.subject_range} ; copie "
           f"de {opened.fork['ws']} à son enregistrement n° {opened.fork['id']}) ; {opened.audit_records} "
           "enregistrements d'audit vérifiés."))
    _say(L(f"A workstation file opens once: this database is the site's {opened.ws} (instance {opened.instance}). "
           f"Do not open {Path(args.file).name} again on another laptop (the site would refuse that one's packets); "
           "delete it once this laptop works.",
           f"Un fichier de poste ne s'ouvre qu'une fois : cette base est le {opened.ws} du site (instance "
           f"{opened.instance}). N'ouvrez pas {Path(args.file).name} une seconde fois sur un autre ordinateur (le "
           "site refuserait ses paquets) ; supprimez-le une fois ce poste en service."))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import _open, _say
    from msc_sle_crf.sync.workstations import Workstations, describe

    site, services, _ = _open(args)
    with site:
        info = Workstations(services.ctx).info()
    _say(describe(info))
    return 0


def cmd_handover(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import _open, _say
    from msc_sle_crf.sync.workstations import Workstations

    site, services, _ = _open(args)
    with site:
        Workstations(services.ctx).handover(args.subject, args.to, args.reason)
    to = args.to.strip().upper()
    _say(L(f"Subject {args.subject} handed over to {to}: it takes the subject over when it imports this "
           "workstation's next packet.",
           f"Patient {args.subject} transféré à {to} : ce poste le prend en charge quand il importe le prochain "
           "paquet de celui-ci."))
    return 0
