"""The Packets screen (issue 18; Study menu): write this workstation's packet into a folder (a USB key), or apply
packets of another workstation of the site, in chain order. Each packet gets one line in the list below: applied,
already applied, refused (why), not tried, or cancelled.

The work runs off the UI thread (the window repaints and moves) with a progress bar and a Cancel button. The screen
is application-modal: while a packet is written or applied nothing else of the program takes input, so no save can
wait behind the import's transaction (the UI thread would freeze on the store's write lock) or interleave with it.
Cancel rolls the packet under way back completely (one transaction: data and trail as before); packets applied
before it stay applied (each is complete and chained), the ones after it are not tried."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.errors import Msg
from msc_sle_crf.export.options import Cancelled
from msc_sle_crf.services import Workspace
from msc_sle_crf.sync.service import ImportOutcome, Packets, chain_order, packet_header
from msc_sle_crf.ui.common import error_text, named, run_in_background, tr
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.printing import ask_folder, ask_open_paths

# The folder the last packet was written to or read from in this program (the USB key, the share): the next
# chooser starts there, not in the home folder (where a new user's Enter, Enter wrote a packet). Kept in memory only.
_last_folder: list[str] = [""]


class PacketsDialog(QDialog):
    def __init__(self, ws: Workspace, parent: QWidget | None = None, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.ops = ops  # an applied packet is announced like any write: open screens refresh from it
        self.packets = Packets(ws.ctx, ws.study)
        self.cancel_event = threading.Event()
        self.running = False
        self._queue: list[Path] = []
        self._total = 0
        self._refused: dict[str, str] = {}  # origin workstation -> the file refused (its later packets: not tried)
        self._tally = {"applied": 0, "already": 0, "refused": 0, "not_tried": 0, "own": 0}
        self._idle_paused = False
        self._worker_idle = threading.Event()  # set by the worker thread when its job returns (or before any job)
        self._worker_idle.set()
        self.setWindowTitle(tr("Workstation packets", "Paquets entre postes"))
        layout = QVBoxLayout(self)
        intro = QLabel(tr(
            "A packet carries what this workstation recorded since its last packet, encrypted for this site and "
            "signed by you. Apply the packets of another workstation in order; a conflict is kept side by side and "
            "shown on the form.",
            "Un paquet contient ce que ce poste a enregistré depuis son dernier paquet, chiffré pour ce site et signé "
            "par vous. Appliquez les paquets d'un autre poste dans l'ordre ; un conflit est conservé côte à côte et "
            "signalé sur le formulaire."))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self.export_button = named(QPushButton(tr("Write a packet…", "Écrire un paquet…")), "packet_export")
        self.import_button = named(QPushButton(tr("Apply packets…", "Appliquer des paquets…")), "packet_import")
        self.export_button.clicked.connect(self._choose_folder)
        self.import_button.clicked.connect(self._choose_files)
        row.addWidget(self.export_button)
        row.addWidget(self.import_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.step = named(QLabel(""), "packet_step")
        self.step.setWordWrap(True)
        layout.addWidget(self.step)
        # Cancel sits beside the bar, never where Close is: a click meant for Cancel that lands just after the work
        # ended must not close the screen and its report.
        running = QHBoxLayout()
        self.bar = named(QProgressBar(), "packet_progress")
        self.bar.setVisible(False)
        self.cancel_button = named(QPushButton(tr("Cancel", "Annuler")), "packet_cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        self.cancel_button.setAutoDefault(False)
        running.addWidget(self.bar, 1)
        running.addWidget(self.cancel_button)
        layout.addLayout(running)
        # i18-secret: a packet under a renewal of the site's packet secret this workstation does not hold yet asks
        # for the one-time code shown to the administrator of the workstation that renewed it (kept in memory for
        # the run only, never stored)
        self.code_label = named(QLabel(""), "packet_code_label")
        self.code_label.setWordWrap(True)
        self.code_edit = named(QLineEdit(), "packet_code")
        self.code_edit.setPlaceholderText("XXXXX-XXXXX-XXXXX-XXXXX-XXXXX")
        self.code_button = named(QPushButton(tr("Apply again with this code", "Appliquer à nouveau avec ce code")),
                                 "packet_code_apply")
        self.code_button.setAutoDefault(False)
        self.code_button.clicked.connect(self._apply_with_code)
        code_row = QHBoxLayout()
        code_row.addWidget(self.code_edit, 1)
        code_row.addWidget(self.code_button)
        layout.addWidget(self.code_label)
        layout.addLayout(code_row)
        self._paths: list[Path] = []
        self._code: str | None = None
        self._code_refusal: BaseException | None = None
        self.results = named(QListWidget(), "packet_results")
        self.results.setWordWrap(True)
        layout.addWidget(self.results, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.close_button = named(QPushButton(tr("Close", "Fermer")), "packet_close")
        self.close_button.clicked.connect(self.reject)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        # Enter with nothing else chosen closes the screen; it never writes or applies a packet (Tab to a button and
        # Enter presses that one: both open a chooser first).
        self._show_code(None)  # hidden until a packet is refused for want of the code; Close the default
        self.close_button.setFocus()
        self.resize(800, 560)  # fits 1280x800 and 1366x768 with the window's frame

    # ----- choosing -----
    def _choose_folder(self) -> None:
        folder = ask_folder(self, tr("Folder for the packet", "Dossier du paquet"), _last_folder[0])
        if folder is not None:
            _last_folder[0] = str(folder)
            self.export_to(folder)

    def _choose_files(self) -> None:
        files = ask_open_paths(self, tr("Packets to apply", "Paquets à appliquer"),
                               tr("Packets (*.crfpkt)", "Paquets (*.crfpkt)"), several=True, start=_last_folder[0])
        if files:
            _last_folder[0] = str(files[0].parent)
            self.apply(list(files))

    # ----- running -----
    def _start(self, text: str, total: int) -> None:
        self.running = True
        self.cancel_event.clear()
        self.export_button.setEnabled(False)
        self.import_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)  # moving: one packet is one transaction, with no steps to count inside it
        self.bar.setVisible(True)
        self.step.setText(text)
        self._total = total
        idle = getattr(self.parent(), "idle", None)  # the work under way is activity: no idle lock meanwhile
        if idle is not None and hasattr(idle, "pause"):
            idle.pause()
            self._idle_paused = True

    def _finish(self, text: str) -> None:
        self._code = None  # a typed code serves one run only: never kept
        self.code_edit.clear()
        self.running = False
        self.export_button.setEnabled(True)
        self.import_button.setEnabled(True)
        self.cancel_button.setVisible(False)
        self.close_button.setEnabled(True)
        self.close_button.setDefault(True)
        self.bar.setVisible(False)
        self.step.setText(text)
        idle = getattr(self.parent(), "idle", None)
        if self._idle_paused and idle is not None and hasattr(idle, "resume"):
            idle.resume()
        self._idle_paused = False

    def on_lock(self) -> None:
        """The session locks (Lock button, another user takes over): a packet under way is cancelled (all of it
        undone) rather than left running for a screen nobody watches; the line says so when the screen is back."""
        if self.running:
            self._idle_paused = False  # the lock screen owns the idle watch now
            self.cancel()

    def _background(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
                    on_error: Callable[[BaseException], None]) -> None:
        idle = self._worker_idle
        idle.clear()

        def job() -> Any:
            try:
                return fn()
            finally:
                idle.set()

        if self.ops is not None:  # announces the result's change record on the UI thread
            self.ops.background(job, on_done=on_done, on_error=on_error)
        else:
            run_in_background(job, on_done, on_error)

    def cancel(self) -> None:
        if self.running:
            self.cancel_event.set()
            self.cancel_button.setEnabled(False)
            self.step.setText(tr("Cancelling: undoing what the packet under way wrote…",
                                 "Annulation : ce que le paquet en cours a écrit est défait…"))

    def reject(self) -> None:
        if self.running:  # Escape or the window's close box while it runs: cancel (everything is undone), stay
            self.cancel()
            return
        super().reject()

    def done(self, result: int) -> None:
        """Closed by the program (the main window closes, the database with it): a packet under way is cancelled
        and its transaction ended (undone) before the screen goes, never left running against a closing database."""
        if self.running:
            self.cancel()
            self._worker_idle.wait(60)  # the cancel is heard at the next SQL statement
        super().done(result)

    def closeEvent(self, event: Any) -> None:
        if self.running:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)

    # ----- export -----
    def export_to(self, folder: Path) -> None:
        if self.running:
            return
        self._start(tr(f"Writing the packet into {folder}…", f"Écriture du paquet dans {folder}…"), 1)
        stop = self.cancel_event.is_set
        self._background(lambda: self.packets.export(Path(folder), cancelled=stop),
                         self._exported, self._export_failed)

    def _exported(self, result: Any) -> None:
        if result is None:
            line = tr("Nothing new since the last packet: no file written.",
                      "Rien de nouveau depuis le dernier paquet : aucun fichier écrit.")
        else:
            line = tr(f"Packet written: {result.path} (packet {result.seq}, {result.records} record(s)).",
                      f"Paquet écrit : {result.path} (paquet {result.seq}, {result.records} enregistrement(s)).")
        self._say(line)
        self._finish("")

    def _export_failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            line = tr("Packet not written: cancelled (no file, nothing recorded).",
                      "Paquet non écrit : annulé (aucun fichier, rien d'enregistré).")
        else:
            line = error_text(exc)
        self._say(line)
        self._finish("")

    # ----- import -----
    def _show_code(self, exc: BaseException | None) -> None:
        """The code field, shown when a packet was refused for want of the code (or a wrong one)."""
        params = getattr(exc, "params", {}) if exc is not None else {}
        visible = exc is not None
        if visible:
            ws, when = params.get("ws", "?"), params.get("when", "?")
            self.code_label.setText(tr(
                f"The code shown to the administrator of {ws} when the site's packet secret was renewed there "
                f"({when}: an account disabled, or Rotate keys):",
                f"Le code montré à l'administrateur de {ws} quand le secret des paquets du site y a été renouvelé "
                f"({when} : un compte désactivé, ou Changer les clés) :"))
            self.code_edit.setFocus()
        for widget in (self.code_label, self.code_edit, self.code_button):
            widget.setVisible(visible)
        # Enter after typing the code applies again with it (a user ends a code with Enter); Close is the default
        # again once the field is gone
        self.code_button.setDefault(visible)
        self.close_button.setDefault(not visible)

    def _apply_with_code(self) -> None:
        code = self.code_edit.text().strip()
        if not code or self.running or not self._paths:
            return
        self._code = code
        self.apply(list(self._paths))

    def apply(self, paths: list[Path]) -> None:
        """Apply the chosen files in chain order, each in its own transaction, one after the other."""
        if self.running or not paths:
            return
        self._paths = list(paths)
        self._code_refusal = None
        self._show_code(None)
        self._queue = chain_order(paths)
        self._refused = {}
        self._tally = dict.fromkeys(self._tally, 0)
        self._start("", len(self._queue))
        self._next()

    def _next(self) -> None:
        if not self._queue:
            self._finish(self._summary())
            if self._code_refusal is not None:
                self._show_code(self._code_refusal)
            return
        if self.cancel_event.is_set():
            for path in self._queue:
                self._say(tr(f"{path.name}: not tried (cancelled).",
                                        f"{path.name} : non essayé (annulé)."))
            self._tally["not_tried"] += len(self._queue)
            self._queue = []
            self._finish(tr("Cancelled: the packet under way was undone, nothing of it was applied. ",
                            "Annulé : le paquet en cours a été défait, rien n'en a été appliqué. ")
                         + self._summary())
            return
        path = self._queue.pop(0)
        header = packet_header(path)
        if header is not None and header[0] in self._refused:
            self._say(tr(
                f"{path.name}: not tried: it follows {self._refused[header[0]]}, refused above.",
                f"{path.name} : non essayé : il fait suite à {self._refused[header[0]]}, refusé ci-dessus."))
            self._tally["not_tried"] += 1
            self._next()
            return
        number = self._total - len(self._queue)
        self.step.setText(tr(f"Applying packet {number} of {self._total}: {path.name}…",
                             f"Application du paquet {number} sur {self._total} : {path.name}…"))
        stop = self.cancel_event.is_set
        code = self._code
        self._background(lambda: self.packets.import_file(path, cancelled=stop, code=code),
                         self._applied, lambda exc: self._import_failed(path, header, exc))

    def _applied(self, outcome: ImportOutcome) -> None:
        # with ``ops``, ``Ops.background`` announced the outcome's change record: open screens refreshed
        self._say(outcome.line().get())
        self._tally["already" if outcome.result.duplicate else "applied"] += 1
        for line in outcome.conflicts:
            self._say(tr(f"  conflict: {line.en}", f"  conflit : {line.fr}"))
        self._next()

    def _import_failed(self, path: Path, header: tuple[str, int] | None, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self._say(tr(f"{path.name}: cancelled: nothing of it was applied.",
                                    f"{path.name} : annulé : rien de ce paquet n'a été appliqué."))
            self.cancel_event.set()
            self._tally["not_tried"] += 1
        elif getattr(exc, "msg", None) is Msg.PACKET_OWN:  # the USB folder chosen whole: nothing wrong with it
            ws = getattr(exc, "params", {}).get("ws", "?")
            self._say(tr(f"{path.name}: this workstation's own packet ({ws}): not applied here, it is for the other "
                         "workstations.",
                         f"{path.name} : paquet de ce poste ({ws}) : pas appliqué ici, il est destiné aux autres "
                         "postes."))
            self._tally["own"] += 1
        else:
            self._tally["refused"] += 1
            text = error_text(exc)  # a packet's refusal names the file; any other failure gets its name here
            self._say(text if path.name in text else tr(f"{path.name}: not applied: {text}",
                                                                   f"{path.name} : non appliqué : {text}"))
            if header is not None:
                self._refused[header[0]] = path.name
            if getattr(exc, "msg", None) in (Msg.PACKET_SECRET_CODE_NEEDED, Msg.PACKET_SECRET_CODE_WRONG):
                self._code_refusal = exc
        self._next()


    def _say(self, line: str) -> None:
        """One result line, kept in view: the newest line is what the user must see (earlier runs stay above)."""
        self.results.addItem(line)
        self.results.scrollToItem(self.results.item(self.results.count() - 1))  # lays the list out first

    def _summary(self) -> str:
        t = self._tally
        own = tr(f", {t['own']} of this workstation's own (for the other workstations)",
                 f", {t['own']} de ce poste (pour les autres postes)") if t["own"] else ""
        return tr(f"Packets: {t['applied']} applied, {t['already']} already applied, {t['refused']} refused, "
                  f"{t['not_tried']} not applied{own}. Each packet's line is below.",
                  f"Paquets : {t['applied']} appliqué(s), {t['already']} déjà appliqué(s), {t['refused']} refusé(s), "
                  f"{t['not_tried']} non appliqué(s){own}. La ligne de chaque paquet est ci-dessous.")


def open_packets(ws: Workspace, parent: QWidget | None = None, ops: Ops | None = None) -> PacketsDialog:
    dialog = PacketsDialog(ws, parent, ops)
    dialog.setModal(True)  # nothing else takes input while a packet runs (see the module's docstring)
    dialog.show()
    return dialog
