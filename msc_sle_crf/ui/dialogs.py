"""Dialogs: change password, new subject (drafted on every change). User accounts: ``ui/accounts.py``."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.errors import CrfError, Msg, ValidationError
from msc_sle_crf.services import Workspace
from msc_sle_crf.services.subjects import SubjectInfo
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.ops import Ops


class ChangePasswordDialog(QDialog):
    def __init__(self, ws: Workspace, *, forced: bool = False, parent: QWidget | None = None,
                 ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.ops = ops if ops is not None else Ops(self)
        self.setWindowTitle(tr("Change password", "Changer le mot de passe"))
        layout = QVBoxLayout(self)
        if forced:
            note = QLabel(tr("This is a one-time password: choose your own before going on.",
                             "Ce mot de passe est à usage unique : choisissez le vôtre avant de continuer."))
            note.setWordWrap(True)
            layout.addWidget(note)
        form = QFormLayout()
        self.current = named(QLineEdit(), "current")
        self.new = named(QLineEdit(), "new")
        self.again = named(QLineEdit(), "again")
        for field in (self.current, self.new, self.again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(tr("Current password", "Mot de passe actuel"), self.current)
        form.addRow(tr("New password (10 characters or more)", "Nouveau (10 caractères ou plus)"), self.new)
        form.addRow(tr("Repeat the new password", "Répétez le nouveau"), self.again)
        layout.addLayout(form)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _accept(self) -> None:
        if self.new.text() != self.again.text():
            self._show(ValidationError(Msg.PASSWORD_MISMATCH))
            return
        current, new = self.current.text(), self.new.text()
        if self.ops.run(lambda: self.ws.accounts.change_password(current, new), on_error=self._show) is not None:
            self.accept()

    def _show(self, exc: CrfError) -> None:
        self.error.setText(error_text(exc))


class NewSubjectDialog(QDialog):
    """Registers a subject. Every change is kept as a draft, so a lock or a crash loses nothing."""

    DRAFT_KEY = "subject:new"

    def __init__(self, ws: Workspace, parent: QWidget | None = None, *, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.ops = ops if ops is not None else Ops(self)
        self.subject: SubjectInfo | None = None
        self.setWindowTitle(tr("New subject", "Nouveau patient"))
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.initials = named(QLineEdit(), "initials")
        self.initials.setMaxLength(3)
        self.birth_year = named(QLineEdit(), "birth_year")
        self.birth_year.setMaxLength(4)
        self.sex = named(QComboBox(), "sex")
        self.sex.addItem("", "")
        self.sex.addItem(tr("Female", "Femme"), "F")
        self.sex.addItem(tr("Male", "Homme"), "M")
        form.addRow(tr("Initials", "Initiales"), self.initials)
        form.addRow(tr("Year of birth", "Année de naissance"), self.birth_year)
        form.addRow(tr("Sex", "Sexe"), self.sex)
        layout.addLayout(form)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.draft_note = named(QLabel(), "subtitle")
        layout.addWidget(self.draft_note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(tr("Register", "Inscrire"))
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self._cancel)
        layout.addWidget(buttons)
        draft = ws.drafts.load(self.DRAFT_KEY)
        if draft:
            self.initials.setText(draft.get("initials", ""))
            self.birth_year.setText(draft.get("birth_year", ""))
            self.sex.setCurrentIndex(max(0, self.sex.findData(draft.get("sex", ""))))
            self.draft_note.setText(tr("Restored from your draft.", "Repris de votre brouillon."))
        self.initials.textChanged.connect(self.save_draft)
        self.birth_year.textChanged.connect(self.save_draft)
        self.sex.currentIndexChanged.connect(self.save_draft)

    def values(self) -> dict[str, str]:
        return {"initials": self.initials.text(), "birth_year": self.birth_year.text(),
                "sex": self.sex.currentData() or ""}

    def save_draft(self) -> None:
        if self.ops.run(lambda: self.ws.drafts.save(self.DRAFT_KEY, self.values()), on_error=self._show) is not None:
            self.draft_note.setText(tr("Draft saved.", "Brouillon enregistré."))

    def _show(self, exc: CrfError) -> None:
        self.error.setText(error_text(exc))

    def _accept(self) -> None:
        values = self.values()
        registered = self.ops.run(lambda: self.ws.subjects.register(values["initials"], values["birth_year"],
                                                                     values["sex"]), on_error=self._show)
        if registered is None:
            return
        self.subject = registered.subject
        self.ws.drafts.discard(self.DRAFT_KEY)
        self.accept()

    def _cancel(self) -> None:
        if any(self.values().values()):
            answer = QMessageBox.question(self, tr("Discard?", "Abandonner ?"),
                                          tr("Discard what you typed?", "Abandonner la saisie ?"))
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.ws.drafts.discard(self.DRAFT_KEY)
        self.reject()
