"""The top of a form: its title, the print and lifecycle buttons, its state, the signatures (valid or not), the
line where a refused lifecycle step is explained, and the notes (locked, read only, older version, help)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from msc_sle_crf.i18n import current_lang
from msc_sle_crf.services.entry import FormRef, FormSnapshot
from msc_sle_crf.services.lifecycle import LifecycleAction, SignatureInfo
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui.common import status_colour, tr
from msc_sle_crf.ui.form.style import named

LIFECYCLE_BUTTONS = {
    LifecycleAction.VERIFY: ("Source verified", "Données source vérifiées"),
    LifecycleAction.SIGN: ("Sign…", "Signer…"),
    LifecycleAction.LOCK: ("Lock", "Verrouiller"),
    LifecycleAction.UNLOCK: ("Unlock…", "Déverrouiller…"),
}


class FormHeader(QWidget):
    """Emits what the user asked for; the form decides and tells it what to show."""

    print_requested = Signal()
    lifecycle_requested = Signal(str)  # a LifecycleAction

    def __init__(self, snapshot: FormSnapshot, ref: FormRef, *, read_only: bool, parent: QWidget,
                 read_only_why: str | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        form = snapshot.form
        top = QHBoxLayout()
        top.addWidget(named(QLabel(form.label.get(), self), "formTitle"))
        top.addStretch(1)
        self.print_button = named(QPushButton(tr("Print PDF…", "Imprimer (PDF)…"), self), "printForm")
        self.print_button.clicked.connect(lambda _checked=False: self.print_requested.emit())
        top.addWidget(self.print_button)
        self.lifecycle_buttons: dict[LifecycleAction, QPushButton] = {}
        for action, (en, fr) in LIFECYCLE_BUTTONS.items():
            button = named(QPushButton(tr(en, fr), self), f"lifecycle_{action.value}")
            button.clicked.connect(lambda _c=False, a=action: self.lifecycle_requested.emit(a.value))
            self.lifecycle_buttons[action] = button
            top.addWidget(button)
        self.status_label = named(QLabel(self), "status")
        top.addWidget(self.status_label)
        layout.addLayout(top)
        self.lifecycle_error = named(QLabel(self), "error")
        self.lifecycle_error.setWordWrap(True)
        self.lifecycle_error.setVisible(False)
        layout.addWidget(self.lifecycle_error)
        self.signature_lines = named(QLabel(self), "signatures")
        self.signature_lines.setWordWrap(True)
        self.signature_lines.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.signature_lines)
        event = snapshot.event
        layout.addWidget(named(QLabel(tr(
            f"Subject {ref.subject} · {event.label.en} · {form.label.en}",
            f"Patient {ref.subject} · {event.label.fr} · {form.label.fr}"),
            self), "subtitle"))
        notes = []
        if snapshot.status is FormStatus.LOCKED:
            notes.append(tr("Locked: unlock it (with a reason) to change it.",
                            "Verrouillé : le déverrouiller (avec un motif) pour le modifier."))
        elif read_only and read_only_why:  # another reason than the role (issue 18: another workstation's subject)
            notes.append(read_only_why)
        elif read_only:
            notes.append(tr("Read only: your role cannot change this form.",
                            "Lecture seule : votre rôle ne permet pas de modifier ce formulaire."))
        if snapshot.outdated:
            notes.append(tr(f"Entered under version {form.version} of this form (current version "
                            f"{snapshot.current_version}); shown and checked as entered.",
                            f"Saisi avec la version {form.version} de ce formulaire (version actuelle "
                            f"{snapshot.current_version}) ; affiché et contrôlé tel que saisi."))
        for text in notes:
            note = named(QLabel(text, self), "outdated")
            note.setWordWrap(True)
            layout.addWidget(note)
        if form.help:
            help_label = named(QLabel(form.help.get(), self), "help")
            help_label.setWordWrap(True)
            layout.addWidget(help_label)

    def show_status(self, status: FormStatus, available: frozenset[LifecycleAction], *, can_print: bool) -> None:
        """The state's label and colour, and only the lifecycle steps this user may take now."""
        self.status_label.setText(status.label())
        self.status_label.setStyleSheet(f"background: {status_colour(status)};")
        for action, button in self.lifecycle_buttons.items():
            button.setVisible(action in available)
        self.print_button.setVisible(can_print and status is not FormStatus.NOT_STARTED)

    def show_signatures(self, signatures: list[SignatureInfo]) -> None:
        lines = []
        for sig in signatures:
            color, mark = ("#2e7d32", "✓") if sig.valid else ("#b00020", "✕")
            lines.append(f'<span style="color:{color}"><b>{mark} {tr("Signed", "Signé")}:</b> '
                         f"{html.escape(sig.manifestation(current_lang()))}</span>")
        self.signature_lines.setText("<br>".join(lines))
        self.signature_lines.setVisible(bool(lines))

    def show_error(self, text: str) -> None:
        """A refused lifecycle step, under the header (not in a window to dismiss); empty to clear."""
        self.lifecycle_error.setText(text)
        self.lifecycle_error.setVisible(bool(text))
