"""The Packets screen (issue 18; Study menu): write this workstation's packet into a folder (a USB key), or apply
packets of another workstation of the site, in order. Each result or refusal is one line in the list below; a
refused packet changes nothing (the next ones are not tried: they would be a gap)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.errors import CrfError
from msc_sle_crf.services import Workspace
from msc_sle_crf.sync.service import Packets
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.printing import ask_folder, ask_open_paths


class PacketsDialog(QDialog):
    def __init__(self, ws: Workspace, parent: QWidget | None = None, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.ops = ops  # an applied packet is announced like any write: open screens refresh from it
        self.packets = Packets(ws.ctx, ws.study)
        self.setWindowTitle(tr("Workstation packets", "Paquets entre postes"))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(tr(
            "A packet carries what this workstation recorded since its last packet, encrypted for this site and "
            "signed by you. Apply the packets of another workstation in order; a conflict is kept side by side and "
            "shown on the form.",
            "Un paquet contient ce que ce poste a enregistré depuis son dernier paquet, chiffré pour ce site et signé "
            "par vous. Appliquez les paquets d'un autre poste dans l'ordre ; un conflit est conservé côte à côte et "
            "signalé sur le formulaire.")))
        row = QHBoxLayout()
        self.export_button = named(QPushButton(tr("Write a packet…", "Écrire un paquet…")), "packet_export")
        self.import_button = named(QPushButton(tr("Apply packets…", "Appliquer des paquets…")), "packet_import")
        self.export_button.clicked.connect(self._choose_folder)
        self.import_button.clicked.connect(self._choose_files)
        row.addWidget(self.export_button)
        row.addWidget(self.import_button)
        layout.addLayout(row)
        self.results = named(QListWidget(), "packet_results")
        layout.addWidget(self.results)
        close = QPushButton(tr("Close", "Fermer"))
        close.clicked.connect(self.accept)
        layout.addWidget(close)
        self.resize(720, 360)

    def _choose_folder(self) -> None:
        folder = ask_folder(self, tr("Folder for the packet", "Dossier du paquet"))
        if folder is not None:
            self.export_to(folder)

    def _choose_files(self) -> None:
        files = ask_open_paths(self, tr("Packets to apply", "Paquets à appliquer"),
                               tr("Packets (*.crfpkt)", "Paquets (*.crfpkt)"), several=True)
        if files:
            self.apply(sorted(files))

    def export_to(self, folder: Path) -> None:
        try:
            result = self.packets.export(folder)
        except CrfError as exc:
            self.results.addItem(error_text(exc))
            return
        if result is None:
            self.results.addItem(tr("Nothing new since the last packet: no file written.",
                                    "Rien de nouveau depuis le dernier paquet : aucun fichier écrit."))
        else:
            self.results.addItem(tr(f"Packet written: {result.path} (packet {result.seq}).",
                                    f"Paquet écrit : {result.path} (paquet {result.seq})."))

    def apply(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                outcome = self.packets.import_file(path)
            except CrfError as exc:
                self.results.addItem(error_text(exc))
                return
            if self.ops is not None:
                self.ops.announce(outcome.changes)
            self.results.addItem(outcome.line().get())
            for line in outcome.result.conflict_lines:
                self.results.addItem(tr(f"  conflict: {line}", f"  conflit : {line}"))


def open_packets(ws: Workspace, parent: QWidget | None = None, ops: Ops | None = None) -> PacketsDialog:
    dialog = PacketsDialog(ws, parent, ops)
    dialog.show()
    return dialog
