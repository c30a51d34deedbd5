"""The bottom of a form: what blocks "Mark complete" (each line leads to its field), the count of problems left,
the keyboard hints and the "Mark complete" button."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from msc_sle_crf.formdef.engine import Issue, Severity
from msc_sle_crf.ui.common import tr
from msc_sle_crf.ui.form.style import named

MARKS = {Severity.HARD: "✕ ", Severity.SOFT: "! "}


class FormFooter(QWidget):
    complete_requested = Signal()
    blocker_chosen = Signal(object)  # the cell key of a blocker the user clicked

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        self.blockers = named(QListWidget(self), "blockers")
        self.blockers.setVisible(False)
        self.blockers.itemActivated.connect(self._chosen)
        self.blockers.itemClicked.connect(self._chosen)
        layout.addWidget(self.blockers)
        line = QHBoxLayout()
        self.summary = named(QLabel(self), "summary")
        hint = named(QLabel(tr(
            "Tab/Enter: next field · arrows or first letter: choose · Ctrl+K: confirm · Ctrl+H: history"
            " · Ctrl+Enter: complete",
            "Tab/Entrée : champ suivant · flèches ou initiale : choisir · Ctrl+K : confirmer · Ctrl+H : historique"
            " · Ctrl+Entrée : terminer"),
            self), "help")
        hint.setWordWrap(True)  # wrapped rather than widening the form beyond its window
        hint.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        line.addWidget(self.summary)
        line.addWidget(hint, 1)  # the room left goes to the hint: one line when the window is wide enough
        self.complete_button = named(QPushButton(tr("Mark complete", "Marquer complet"), self), "primary")
        self.complete_button.clicked.connect(lambda _c=False: self.complete_requested.emit())
        line.addWidget(self.complete_button)
        layout.addLayout(line)

    def _chosen(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        if key:
            self.blocker_chosen.emit(tuple(key))

    def show_summary(self, blockers: list[Issue]) -> None:
        hard = sum(1 for b in blockers if b.severity is Severity.HARD)
        soft = sum(1 for b in blockers if b.severity is Severity.SOFT)
        missing = sum(1 for b in blockers if b.severity is Severity.MISSING)
        if not blockers:
            self.summary.setText(tr("✓ Every check passes.", "✓ Tous les contrôles sont satisfaits."))
        else:
            self.summary.setText(tr(f"{hard} to correct · {soft} to confirm · {missing} to fill in",
                                    f"{hard} à corriger · {soft} à confirmer · {missing} à renseigner"))

    def show_blockers(self, blockers: list[Issue]) -> None:
        """Why "Mark complete" was refused: one line per problem; the summary says so."""
        self.blockers.clear()
        for b in blockers:
            item = QListWidgetItem(MARKS.get(b.severity, "• ") + b.message.get())
            item.setData(Qt.ItemDataRole.UserRole, b.key)
            self.blockers.addItem(item)
        self.blockers.setFixedHeight(min(12 + self.blockers.sizeHintForRow(0) * len(blockers), 260))
        self.blockers.setVisible(True)
        self.summary.setText(tr(f"Cannot mark complete: {len(blockers)} problem(s), listed above.",
                                f"Impossible de terminer : {len(blockers)} problème(s), listés ci-dessus."))

    def hide_blockers(self) -> None:
        self.blockers.setVisible(False)
