"""A subject's casebook: every visit and its forms with their state; opening a form opens its window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.errors import CrfError
from msc_sle_crf.forms.model import StudyDef
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.ui.common import error_text, tr
from msc_sle_crf.ui.form_view import STATUS_LABELS, FormWindow, status_text


class CasebookDialog(QDialog):
    form_opened = Signal(object)  # FormWindow

    def __init__(self, entry: DataEntry, study: StudyDef, subject: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.study = study
        self.subject = subject
        self.resize(760, 640)
        layout = QVBoxLayout(self)
        self.title = QLabel(objectName="title")
        layout.addWidget(self.title)
        self.hint = QLabel(objectName="subtitle")
        layout.addWidget(self.hint)
        self.tree = QTreeWidget(objectName="casebook")
        self.tree.setColumnCount(3)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.setStyleSheet("QTreeWidget { font-size: 12pt; } QTreeWidget::item { min-height: 34px; }")
        self.tree.itemActivated.connect(self._open)
        layout.addWidget(self.tree)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr(f"Casebook — subject {self.subject}", f"Cahier — patient {self.subject}"))
        self.title.setText(tr(f"Subject {self.subject}", f"Patient {self.subject}"))
        self.hint.setText(tr("Double-click or press Enter on a form to open it.",
                             "Double-cliquez ou appuyez sur Entrée sur un formulaire pour l'ouvrir."))
        self.tree.setHeaderLabels([tr("Visit / form", "Visite / formulaire"), tr("Version", "Version"),
                                   tr("State", "État")])
        self.refresh()

    def refresh(self) -> None:
        statuses = self.entry.statuses(self.subject)
        self.tree.clear()
        for event in self.study.meta.events:
            top = QTreeWidgetItem([event.label.get(), "", ""])
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            self.tree.addTopLevelItem(top)
            for form_id in event.forms:
                form = self.study.forms[form_id]
                status = statuses.get((event.id, form_id), "not_started")
                child = QTreeWidgetItem([form.label.get(), form.version, status_text(status)])
                child.setData(0, Qt.ItemDataRole.UserRole, (event.id, form_id))
                child.setForeground(2, QBrush(QColor(STATUS_LABELS.get(status, (None, "#333"))[1])))
                top.addChild(child)
            top.setExpanded(True)

    def _open(self, item: QTreeWidgetItem) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if not data:
            return
        event_id, form_id = data
        try:
            window = FormWindow(self.entry, FormRef(self.subject, event_id, form_id), self)
        except CrfError as exc:
            QMessageBox.warning(self, tr("Open form", "Ouvrir le formulaire"), error_text(exc))
            return
        window.view.status_changed.connect(lambda _s: self.refresh())
        window.finished.connect(lambda _r: self.refresh())
        self.form_opened.emit(window)
        window.open()
