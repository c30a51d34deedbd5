"""Printing from the app: the PDF is built and signed off the UI thread with a progress dialog that can cancel it,
then written atomically where the user chose; the print is audited."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QStandardPaths, QThreadPool, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QTreeView, QWidget

from msc_sle_crf.errors import CrfError
from msc_sle_crf.pdf.render import Cancelled
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.printing import Printing
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.common import error_text, tr


class _Signals(QObject):
    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(object)


Work = Callable[[Callable[[int, int], None], Callable[[], bool]], bytes]
_held: dict[int, tuple[Work, _Signals, threading.Event]] = {}  # released on the UI thread (see ui.common._Job)
_next = [0]


class _Job(QRunnable):
    """Makes the PDF on the pool's thread, holding nothing of its own: the work, its signals and the Cancel event (whose
    ``set`` is connected to the progress dialog) stay in ``_held`` until the UI thread releases them, so none of them
    dies on the pool's thread (see ui.common._Job: that deadlocked with the UI thread closing the dialog)."""

    def __init__(self, key: int) -> None:
        super().__init__()
        self.key = key

    def run(self) -> None:
        work, signals, cancel = _held[self.key]
        try:
            result = work(signals.progress.emit, cancel.is_set)
        except BaseException as exc:  # reported on the UI thread
            signals.failed.emit(exc)
        else:
            signals.done.emit(result)
        del work, signals, cancel


def _release_later(key: int) -> None:
    QTimer.singleShot(2000, lambda: _held.pop(key, None))


class PrintJob(QObject):
    """One PDF being made. ``finished`` carries the path written, or None when cancelled or failed."""

    finished = Signal(object)

    def __init__(self, parent: QWidget, ws: Workspace, *, what: str, target: Path,
                 work: Callable[[Printing, Callable[[int, int], None], Callable[[], bool]], bytes],
                 offer_open: bool = False) -> None:
        super().__init__(parent)
        self.offer_open = offer_open
        self.offer: QMessageBox | None = None
        self.parent_widget = parent
        self.printing = ws.printing
        self.what, self.target = what, target
        self.cancel = threading.Event()
        self.signals = _Signals()
        self.dialog = QProgressDialog(tr(f"Making the PDF: {what}…", f"Création du PDF : {what}…"),
                                      tr("Cancel", "Annuler"), 0, 100, parent)
        self.dialog.setWindowTitle(tr("Print", "Imprimer"))
        self.dialog.setMinimumDuration(300)
        self.dialog.canceled.connect(self.cancel.set)
        self.signals.progress.connect(self._progress)
        self.signals.done.connect(self._done)
        self.signals.failed.connect(self._failed)
        self.error: str | None = None
        _next[0] += 1
        self._key = _next[0]
        printing = self.printing
        _held[self._key] = (lambda p, c: work(printing, p, c), self.signals, self.cancel)
        QThreadPool.globalInstance().start(_Job(self._key))

    def _progress(self, done: int, total: int) -> None:
        self.dialog.setValue(int(100 * done / max(total, 1)))

    def _done(self, pdf: Any) -> None:
        _release_later(self._key)
        self.dialog.reset()
        try:
            self.printing.write(pdf, self.target, self.what)
        except CrfError as exc:
            self._failed(exc)
            return
        if self.offer_open:
            self._offer_to_open()
        self.finished.emit(self.target)

    def _offer_to_open(self) -> None:
        """Saved: say where, and offer to open it (not blocking: the user may go on working)."""
        box = QMessageBox(QMessageBox.Icon.Information, tr("PDF saved", "PDF enregistré"),
                          tr(f"The signed PDF was saved as\n{self.target}", f"Le PDF signé est enregistré sous\n"
                             f"{self.target}"), QMessageBox.StandardButton.NoButton, self.parent_widget)
        open_button = box.addButton(tr("Open it", "L'ouvrir"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(tr("Close", "Fermer"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(open_button)
        target = self.target
        box.buttonClicked.connect(lambda button: open_file(target) if button is open_button else None)
        self.offer = box
        box.open()

    def _failed(self, exc: BaseException) -> None:
        _release_later(self._key)
        self.dialog.reset()
        if isinstance(exc, Cancelled):
            self.finished.emit(None)
            return
        self.error = error_text(exc)
        QMessageBox.warning(self.parent_widget, tr("Print", "Imprimer"), self.error)
        self.finished.emit(None)


def open_file(path: Path) -> bool:
    """The file in the desktop's viewer for its type (the PDF reader)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def documents_folder() -> Path:
    """The user's documents folder (where a save starts), else the home folder; never the program's folder."""
    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    folder = Path(found) if found else Path.home()
    return folder if folder.is_dir() else Path.home()


_LABELS = ((QFileDialog.DialogLabel.LookIn, "Look in:", "Voir dans :"),
           (QFileDialog.DialogLabel.FileName, "File name:", "Nom du fichier :"),
           (QFileDialog.DialogLabel.FileType, "Files of type:", "Type de fichier :"),
           (QFileDialog.DialogLabel.Reject, "Cancel", "Annuler"))


def _wide(dialog: QFileDialog) -> None:
    """Wide enough that long names (PACKET-99-WS-02-00001.crfpkt) are not cut in the middle, within 1280x768; and
    the list's Name column as wide as the names it shows (Qt leaves it at about 250 px whatever the dialog's width,
    which cut "PACKET-01-WS...00001.crfpkt" so that two laptops' packets looked the same)."""
    dialog.resize(max(dialog.sizeHint().width(), 960), max(dialog.sizeHint().height(), 520))
    tree = dialog.findChild(QTreeView, "treeView")  # Qt's own dialog (a native one sizes its columns itself)
    model = tree.model() if tree is not None else None
    if tree is None or model is None:
        return

    def fit(*_: object) -> None:
        needed = tree.sizeHintForColumn(0)
        if needed > tree.header().sectionSize(0):
            tree.setColumnWidth(0, needed)

    for signal in (model.rowsInserted, model.layoutChanged, model.modelReset):
        signal.connect(fit)


def _in_users_language(dialog: QFileDialog, accept_en: str, accept_fr: str) -> QFileDialog:
    for label, en, fr in _LABELS:
        dialog.setLabelText(label, tr(en, fr))
    dialog.setLabelText(QFileDialog.DialogLabel.Accept, tr(accept_en, accept_fr))
    return dialog


def _start(kind: str, start: str = "") -> Path:
    """Where a dialog starts: the folder given, else the one this kind of dialog last used, else the documents
    folder (ui/last_folders.py)."""
    from msc_sle_crf.ui.last_folders import folder_for

    return Path(start) if start else (folder_for(kind) or documents_folder())


def _remember(kind: str, folder: Path) -> None:
    from msc_sle_crf.ui.last_folders import remember

    remember(kind, folder)


def _open_kind(name_filter: str) -> str:
    return "check-pdf" if "*.pdf" in name_filter else "packets" if "*.crfpkt" in name_filter else \
        "restore" if "*.crfbak" in name_filter else "file"


def _save_kind(name_filter: str) -> str:
    return "pdf" if "*.pdf" in name_filter else "csv" if "*.csv" in name_filter else \
        "receipt" if "*.json" in name_filter else "file"


def ask_open_paths(parent: QWidget | None, title: str, name_filter: str, *, several: bool = False,
                   start: str = "", kind: str = "") -> list[Path]:
    """Files to read (a PDF, receipts, packets), starting in ``start``, else the folder this kind of dialog last
    used, else the documents folder; labels in the user's language."""
    kind = kind or _open_kind(name_filter)
    dialog = QFileDialog(parent, title, str(_start(kind, start)), name_filter)
    _wide(dialog)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFiles if several else QFileDialog.FileMode.ExistingFile)
    _in_users_language(dialog, "Open", "Ouvrir")
    if dialog.exec() != QFileDialog.DialogCode.Accepted:
        return []
    chosen = [Path(name) for name in dialog.selectedFiles()]
    if chosen:
        _remember(kind, chosen[0].parent)
    return chosen


def ask_folder(parent: QWidget | None, title: str, start: str = "", *, kind: str = "folder") -> Path | None:
    """A folder (for backups, for an export), labels in the user's language; starts in ``start``, else the folder
    this kind of dialog last used."""
    dialog = QFileDialog(parent, title, str(_start(kind, start)))
    _wide(dialog)
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    _in_users_language(dialog, "Choose", "Choisir")
    if dialog.exec() != QFileDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return None
    folder = Path(dialog.selectedFiles()[0])
    _remember(kind, folder)
    return folder


def save_dialog(parent: QWidget | None, title: str, suggested: str, name_filter: str = "PDF (*.pdf)", *,
                kind: str = "") -> QFileDialog:
    """Qt's save dialog, starting in the folder this kind of file was last saved in (else the documents folder) with
    ``suggested`` as the name, every label in the user's language (Qt's French catalogue lacks some of this dialog's
    labels: they are set here)."""
    dialog = QFileDialog(parent, title, str(_start(kind or _save_kind(name_filter)) / suggested), name_filter)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setDefaultSuffix(name_filter.rsplit("*.", 1)[-1].rstrip(")") if "*." in name_filter else "")
    dialog.selectFile(suggested)
    return _in_users_language(dialog, "Save", "Enregistrer")


def ask_save_path(parent: QWidget | None, title: str, suggested: str, name_filter: str = "PDF (*.pdf)", *,
                  kind: str = "") -> Path | None:
    """Where to save (the folder this kind of file was last saved in, else the documents folder; labels in the
    user's language); None when cancelled."""
    kind = kind or _save_kind(name_filter)
    dialog = save_dialog(parent, title, Path(suggested).name, name_filter, kind=kind)
    if dialog.exec() != QFileDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return None
    path = Path(dialog.selectedFiles()[0])
    _remember(kind, path.parent)
    return path


def pdf_name(ws: Workspace, subject: str, event: str | None = None, form: str | None = None) -> str:
    """The file name offered for a casebook, a visit or one form, in the reader's words ("visite-99-002-Mois-6.pdf",
    "99-002-Mois-6-Signes-vitaux.pdf"; not "casebook-99-002-M6.pdf", "99-002-M6-vital_signs.pdf"): letters without
    accents, digits and dashes."""
    parts = [] if form else [tr("visit", "visite") if event else tr("casebook", "cahier")]
    parts.append(subject)
    if event:
        parts.append(ws.study.event(event).label.get())
    if form:
        parts.append(ws.study.form(form).label.get())
    return readable_name(parts, "pdf")


def readable_name(parts: list[str], suffix: str) -> str:
    """A file name from the reader's words, kept to letters without accents, digits and dashes (["critères",
    "Mois 3"], "pdf" -> "criteres-Mois-3.pdf")."""
    plain = unicodedata.normalize("NFKD", "-".join(parts)).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", plain).strip("-") + "." + suffix


def ask_path(parent: QWidget, suggested: str) -> Path | None:
    return ask_save_path(parent, tr("Save the signed PDF", "Enregistrer le PDF signé"), suggested)


def print_form(parent: QWidget, ws: Workspace, ref: FormRef, target: Path, *,
               with_audit: bool = True, offer_open: bool = False) -> PrintJob:
    return PrintJob(parent, ws, what=f"CRF {ref.subject} {ref.event} {ref.form}", target=target,
                    work=lambda printing, _p, _c: printing.form_pdf(ref, with_audit=with_audit),
                    offer_open=offer_open)


def print_casebook(parent: QWidget, ws: Workspace, subject: str, target: Path, *,
                   with_audit: bool = True, event: str | None = None, offer_open: bool = False) -> PrintJob:
    """The subject's casebook, or one visit of it (``event``)."""
    return PrintJob(parent, ws, what=f"casebook {subject}" + (f" {event}" if event else ""), target=target,
                    work=lambda printing, progress, cancelled: printing.casebook_pdf(
                        subject, event=event, with_audit=with_audit, progress=progress, cancelled=cancelled),
                    offer_open=offer_open)
