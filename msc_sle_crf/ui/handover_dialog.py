"""Hand a subject over to another workstation of the site (issue 18), from the app: the subject's casebook ("Hand
over to another workstation…") and, for administrators, who have no subject list, Administration > "Hand a subject
over…". The same rule and the same service as ``msc-sle-crf workstation handover`` (``Perm.HAND_OVER_SUBJECT``:
administrators and investigators; only on the workstation that enters the subject now; reason required; audited).

The steps, said in the dialog and in the README: 1. hand over here; 2. write this workstation's packet; 3. apply it
on the new workstation, which enters the subject from then on. Here the subject becomes read-only for new forms, rows
and the infusion day at once (the casebook's owner note says where it is entered)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.access import Perm
from msc_sle_crf.errors import CrfError
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.sync.workstations import Workstations
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.ops import Ops


def may_hand_over(ws: Workspace) -> bool:
    """The command line's rule: whoever may hand a subject over (administrators, investigators), on a site with
    several workstations."""
    if not ws.can(Perm.HAND_OVER_SUBJECT):
        return False
    try:
        return not Workstations(ws.ctx).info().alone
    except CrfError:
        return False


def show_button(button: QPushButton, ws: Workspace, owned: bool) -> None:
    """The casebook's "Hand over…" button: shown to whoever may, usable on the workstation that enters the subject."""
    button.setText(tr("Hand over to another workstation…", "Transférer à un autre poste…"))
    button.setVisible(may_hand_over(ws))
    button.setEnabled(owned)
    button.setToolTip("" if owned else tr("Only the workstation that enters this subject can hand it over.",
                                          "Seul le poste qui saisit ce patient peut le transférer."))


class HandoverDialog(QDialog):
    """Choose the workstation, give the reason; the steps that follow are written in the dialog."""

    def __init__(self, ws: Workspace, ops: Ops, subject: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("handoverDialog")
        self.ws, self.ops = ws, ops
        self.changes: Changes | None = None
        info = Workstations(ws.ctx).info()
        self.here = info.ws
        self.setWindowTitle(tr("Hand a subject over to another workstation", "Transférer un patient à un autre poste"))
        self.setMinimumSize(700, 470)  # the steps wrap: room for all of them in French at 1280 x 800
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.subject = named(QLineEdit(subject or ""), "handoverSubject")
        self.subject.setPlaceholderText(f"{info.site}-001")
        self.subject.setReadOnly(subject is not None)
        form.addRow(tr("Subject", "Patient"), self.subject)
        self.target = named(QComboBox(), "handoverTarget")
        for other in info.known:
            if other != info.ws:
                self.target.addItem(other, other)
        form.addRow(tr("Give its entry to", "Confier sa saisie au poste"), self.target)
        self.reason = named(QLineEdit(), "handoverReason")
        self.reason.setPlaceholderText(tr("Required: e.g. seen in consultation now",
                                          "Obligatoire : par ex. suivi en consultation"))
        form.addRow(tr("Reason", "Motif"), self.reason)
        layout.addLayout(form)
        self.steps = named(QLabel(), "handoverSteps")
        self.steps.setWordWrap(True)
        layout.addWidget(self.steps, 1)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(tr("Hand over", "Transférer"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel", "Annuler"))
        self.buttons.accepted.connect(self.hand_over)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for widget in (self.subject, self.reason):
            widget.textChanged.connect(self._update)
        self.target.currentIndexChanged.connect(self._update)
        self._update()
        (self.reason if subject is not None else self.subject).setFocus()

    def _update(self) -> None:
        target = str(self.target.currentData() or "…")
        subject = self.subject.text().strip() or "…"
        here = self.here
        self.steps.setText(tr(
            f"1. Hand over here, on {here}, the workstation that enters subject {subject} now.\n"
            f"2. Write this workstation's packet (Study > Workstation packets) and carry it to {target}.\n"
            f"3. Apply the packet on {target}: from then on {target} starts the subject's forms, adds rows and runs "
            "its infusion day.\n"
            f"Here the subject becomes read-only for new forms, rows and the infusion day at once; values, "
            "signatures, SDV and queries can still be done on any workstation. Until step 3, no workstation starts "
            "new forms of it.",
            f"1. Transférez ici, sur {here}, le poste qui saisit le patient {subject} aujourd'hui.\n"
            f"2. Écrivez le paquet de ce poste (Étude > Paquets entre postes) et apportez-le au poste {target}.\n"
            f"3. Appliquez le paquet sur {target} : dès lors {target} commence les formulaires du patient, ajoute "
            "les lignes et fait sa journée de perfusion.\n"
            "Ici, le patient passe aussitôt en lecture seule pour les nouveaux formulaires, lignes et la journée de "
            "perfusion ; valeurs, signatures, SDV et queries restent possibles sur tous les postes. Jusqu'à l'étape "
            "3, aucun poste ne commence de nouveau formulaire pour lui."))
        self.ok.setEnabled(bool(self.subject.text().strip() and self.reason.text().strip()
                                and self.target.currentData()))

    def hand_over(self) -> Changes | None:
        """The handover through the service (refused: one line on the dialog, what was typed stays)."""
        subject, target, reason = self.subject.text().strip(), str(self.target.currentData() or ""), \
            self.reason.text()
        self.error.clear()
        service = Workstations(self.ws.ctx)
        changes = self.ops.run(lambda: service.handover(subject, target, reason), parent=self,
                               on_error=lambda exc: self.error.setText(error_text(exc)))
        if changes is None:
            return None
        self.changes = changes
        self.accept()
        return changes


def open_handover(ws: Workspace, ops: Ops, subject: str | None = None,
                  parent: QWidget | None = None) -> HandoverDialog:
    dialog = HandoverDialog(ws, ops, subject, parent)
    dialog.open()  # window-modal on its parent (the casebook, the main window)
    return dialog
