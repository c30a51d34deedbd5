"""``msc-sle-crf packet export`` and ``msc-sle-crf packet import``: workstations of one site (issue 18).

    msc-sle-crf packet export --db WS.crfdb --user NAME --out DIR
    msc-sle-crf packet import --db WS.crfdb --user NAME [--code] PACKET...

Export writes this workstation's records since its last packet (nothing new: one line, no file). Import applies each
packet in one transaction (all or nothing); a refused packet stops there with one line (exit 2) and the packets after
it are not tried: they would only be refused as a gap. ``--code``: asks (hidden, or the next line of standard input)
the one-time code of a renewal of the site's packet secret (a disable or "Rotate keys" on another workstation), for a
packet under a generation this workstation does not hold yet.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msc_sle_crf.i18n import L


def add_packet_commands(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    packets = sub.add_parser("packet", help="exchange packets between the workstations of one site").add_subparsers(
        dest="packet_command", required=True)
    p = command("export", cmd_packet_export, "write this workstation's records since its last packet (encrypted "
                "for the site, signed by you)", parent=packets, user=True)
    p.add_argument("--out", required=True, help="the folder to write the packet file in")
    p = command("import", cmd_packet_import, "check and apply packets of another workstation of this site, in order",
                parent=packets, user=True)
    p.add_argument("packets", nargs="+", metavar="PACKET", help="packet file(s) (.crfpkt), in order")
    p.add_argument("--code", action="store_true",
                   help="ask the one-time code shown to the administrator of the workstation that renewed the site's "
                        "packet secret (a disable or 'Rotate keys' there)")


def say_packet_code(code: str | None) -> None:
    """The one-time code of the packet secret a disable or a rotation just renewed: printed once, stored nowhere."""
    from msc_sle_crf.cli import _say

    if not code:
        return
    _say(L("ONE-TIME CODE of the site's packet secret, renewed now (shown once, stored nowhere): the other "
           "workstations type it when they import this workstation's next packet ('packet import --code'); until "
           "then a disabled account can still sign in on them: disable it there too.",
           "CODE À USAGE UNIQUE du secret des paquets du site, renouvelé à l'instant (affiché une seule fois, conservé "
           "nulle part) : les autres postes le saisissent en important le prochain paquet de ce poste (« packet "
           "import --code ») ; d'ici là un compte désactivé peut encore s'y connecter : désactivez-le aussi là-bas."))
    _say(f"    {code}")


def cmd_packet_export(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import _open, _say
    from msc_sle_crf.sync.service import Packets

    site, services, _ = _open(args)
    with site:
        result = Packets(services.ctx, services.study).export(Path(args.out))
    if result is None:
        _say(L("Nothing new since the last packet: no file written.",
               "Rien de nouveau depuis le dernier paquet : aucun fichier écrit."))
        return 0
    _say(L(f"Packet written: {result.path} (packet {result.seq}, records #{result.first_record}-#{result.last_record}, "
           f"{result.file_oid}).",
           f"Paquet écrit : {result.path} (paquet {result.seq}, enregistrements #{result.first_record}-"
           f"#{result.last_record}, {result.file_oid})."))
    return 0


def cmd_packet_import(args: argparse.Namespace) -> int:
    from msc_sle_crf.cli import _open, _say
    from msc_sle_crf.sync.service import Packets

    site, services, secrets_ = _open(args)
    with site:
        code = secrets_.ask(L("One-time code of the site's packet secret:", "Code à usage unique du secret des "
                              "paquets du site :")) if getattr(args, "code", False) else None
        packets = Packets(services.ctx, services.study)
        for name in args.packets:
            outcome = packets.import_file(Path(name), code=code)
            _say(outcome.line())
            for line in outcome.conflicts:
                _say(L(f"  conflict: {line.en}", f"  conflit : {line.fr}"))
    return 0
