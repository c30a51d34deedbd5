"""``msc-sle-crf packet export`` and ``msc-sle-crf packet import``: workstations of one site (issue 18).

    msc-sle-crf packet export --db WS.crfdb --user NAME --out DIR
    msc-sle-crf packet import --db WS.crfdb --user NAME PACKET...

Export writes this workstation's records since its last packet (nothing new: one line, no file). Import applies each
packet in one transaction (all or nothing); a refused packet stops there with one line (exit 2) and the packets after
it are not tried: they would only be refused as a gap.
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

    site, services, _ = _open(args)
    with site:
        packets = Packets(services.ctx, services.study)
        for name in args.packets:
            outcome = packets.import_file(Path(name))
            _say(outcome.line())
            for line in outcome.result.conflict_lines:
                _say(L(f"  conflict: {line}", f"  conflit : {line}"))
    return 0
