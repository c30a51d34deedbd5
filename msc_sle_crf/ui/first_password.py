"""First sign-in (or after an administrator's reset): the one-time password leads straight to "choose your
password", the rules shown as one types, then into the app. Shown inside the sign-in window, in place of its card.

The one-time password typed at sign-in is held in memory only (it is the "current password" the service needs to
re-wrap the account's key slot) and dropped as soon as the new password is set or the page is left.
"""

from __future__ import annotations

import contextlib
import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from msc_sle_crf.errors import CrfError, Msg, ValidationError
from msc_sle_crf.i18n import L
from msc_sle_crf.security.policy import password_checks
from msc_sle_crf.ui.common import error_text, named, run_in_background, tr

if TYPE_CHECKING:
    from msc_sle_crf.services import Workspace

OK, NOT_YET = "✓", "✗"


def rules_html(checks: list[tuple[L, bool]]) -> str:
    """The rules, one a line, a green tick or a red cross before each (a wrapped rule stays indented)."""
    rows = "".join(
        f"<tr><td style='color:{'#2e7d32' if ok else '#b00020'}; padding-right:6px'>{OK if ok else NOT_YET}</td>"
        f"<td>{html.escape(rule.get())}</td></tr>" for rule, ok in checks)
    return f"<table cellspacing='0' cellpadding='1'>{rows}</table>"


class ChoosePasswordPage(QFrame):
    """The card "Choose your password": new password twice, the rules live, Continue / Back to sign-in."""

    done = Signal(object)  # the Workspace, its password now the user's own
    cancelled = Signal()

    def __init__(self, back: L | None = None) -> None:
        super().__init__()
        self.setObjectName("card")
        # where "back" leads: the sign-in window, or the lock screen (a takeover with a one-time password)
        self.back_label = back or L("Back to sign-in", "Retour à la connexion")
        self.setFixedWidth(560)  # French button texts and title whole
        self.ws: Workspace | None = None
        self._one_time = ""
        self.strength_ok = False
        self.rules_text = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(36, 28, 36, 28)
        layout.setSpacing(10)
        self.title = named(QLabel(), "title")
        self.title.setWordWrap(True)
        self.intro = named(QLabel(), "subtitle")
        self.intro.setWordWrap(True)
        self.new_label = QLabel()
        self.new = named(QLineEdit(), "new_password")
        self.again_label = QLabel()
        self.again = named(QLineEdit(), "again_password")
        for field in (self.new, self.again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
            field.textChanged.connect(self._typed)
        self.rules = named(QLabel(), "rules")
        self.rules.setWordWrap(True)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        for widget in (self.title, self.intro, self.new_label, self.new, self.again_label, self.again, self.rules,
                       self.error):
            layout.addWidget(widget)
        buttons = QHBoxLayout()
        self.back = QPushButton()
        self.back.clicked.connect(self._back)
        self.submit = named(QPushButton(), "primary")
        self.submit.setDefault(True)
        self.submit.clicked.connect(self._submit)
        buttons.addWidget(self.back)
        buttons.addStretch(1)
        buttons.addWidget(self.submit)
        layout.addLayout(buttons)
        self.new.returnPressed.connect(self.again.setFocus)
        self.again.returnPressed.connect(self._submit)
        self._timer = QTimer(self)  # the strength estimate after a short pause in typing
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)
        self._timer.timeout.connect(self._show_rules)
        self.retranslate()

    def start(self, ws: Workspace, one_time: str) -> None:
        self.ws, self._one_time = ws, one_time
        self.new.clear()
        self.again.clear()
        self.error.clear()
        self._set_busy(False)
        self.retranslate()
        self.new.setFocus()

    def retranslate(self) -> None:
        self.title.setText(tr("Choose your password", "Choisissez votre mot de passe"))
        name = self.ws.actor.full_name if self.ws is not None else ""
        self.intro.setText(tr(f"{name}, you signed in with a one-time password. Choose your own to go on; "
                              f"nobody else will know it.",
                              f"{name}, vous vous êtes connecté(e) avec un mot de passe à usage unique. "
                              f"Choisissez le vôtre pour continuer ; personne d'autre ne le connaîtra."))
        self.new_label.setText(tr("New password", "Nouveau mot de passe"))
        self.again_label.setText(tr("Type it again", "Saisissez-le à nouveau"))
        self.back.setText(self.back_label.get())
        self.submit.setText(tr("Set my password and continue", "Enregistrer et continuer"))
        self._show_rules()

    def _typed(self) -> None:
        self.error.clear()
        self._timer.start()

    def _show_rules(self) -> None:
        username = self.ws.actor.username if self.ws is not None else None
        checks = password_checks(self.new.text(), username, self.again.text())
        self.strength_ok = all(ok for _, ok in checks[:3])  # the policy (the last rule: typed twice)
        self.rules.setText(rules_html(checks))
        self.rules_text = "\n".join(f"{OK if ok else NOT_YET}  {rule.get()}" for rule, ok in checks)
        self.rules.setAccessibleDescription(self.rules_text)  # what a screen reader says

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.new, self.again, self.submit, self.back):
            widget.setEnabled(not busy)
        if busy:
            self.error.setText(tr("Saving your password…", "Enregistrement du mot de passe…"))

    def _submit(self) -> None:
        ws = self.ws
        if ws is None or not self.submit.isEnabled():
            return
        new = self.new.text()
        if new != self.again.text():
            self.error.setText(ValidationError(Msg.PASSWORD_MISMATCH).message())
            self.again.setFocus()
            return
        one_time = self._one_time
        self._set_busy(True)
        run_in_background(lambda: ws.accounts.change_password(one_time, new), self._ok, self._failed)

    def _ok(self, _changes: object) -> None:
        ws, self.ws, self._one_time = self.ws, None, ""
        self._set_busy(False)
        self.new.clear()
        self.again.clear()
        self.error.clear()
        self.done.emit(ws)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.error.setText(error_text(exc))  # one line; what was typed stays
        self.new.setFocus()

    def _back(self) -> None:
        ws, self.ws, self._one_time = self.ws, None, ""
        self.new.clear()
        self.again.clear()
        if ws is not None:
            with contextlib.suppress(CrfError):  # leaving the page never fails; the logout is best effort
                ws.logout()
        self.cancelled.emit()
