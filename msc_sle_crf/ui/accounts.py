"""The administrator's accounts and site screen: who may sign in (user name, full name, role by its name in the
user's language, state), add a user, reset a password, disable and enable again. Every action goes through
``services/accounts.py`` (role checked, audited); a refusal is one line in the dialog, which stays open with what
was typed. A one-time password is shown once, in a dialog of its own, and forgotten when it closes.

Administrators land on this screen (they have no access to clinical data); "Administration > User accounts" brings
it to the front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.errors import CrfError
from msc_sle_crf.i18n import L, current_lang
from msc_sle_crf.services import Workspace
from msc_sle_crf.services.accounts import IssuedPassword, UserInfo
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.ops import Ops

ROLES = (Role.NURSE, Role.INVESTIGATOR, Role.MONITOR, Role.ADMIN)


def state_text(user: UserInfo) -> str:
    if not user.active:
        return tr("Disabled", "Désactivé")
    if user.disabled_on:  # issue 18: an administrator's disable made on another workstation holds here
        return tr(f"Disabled on {user.disabled_on} (cannot sign in here; its key here is still valid: disable it "
                  "here too to revoke its key on this workstation)",
                  f"Désactivé sur le poste {user.disabled_on} (ne peut pas se connecter ici ; sa clé d'ici reste "
                  "valable : désactivez-le ici aussi pour révoquer sa clé sur ce poste)")
    if user.locked:
        return tr("Locked out (too many wrong passwords)", "Bloqué (trop de mots de passe erronés)")
    if user.must_change_password:
        return tr("Active: one-time password, not yet changed", "Actif : mot de passe à usage unique, pas encore "
                  "changé")
    return tr("Active", "Actif")


class OneTimePasswordDialog(QDialog):
    """The one-time password, shown once: large, selectable, to hand over in person."""

    def __init__(self, parent: QWidget | None, issued: IssuedPassword, full_name: str, what: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("One-time password", "Mot de passe à usage unique"))
        layout = QVBoxLayout(self)
        intro = QLabel(tr(f"{what}\nOne-time password for {full_name} ({issued.username}):",
                          f"{what}\nMot de passe à usage unique pour {full_name} ({issued.username}) :"))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.password = named(QLabel(issued.password), "one_time_password")
        # Large, in a fixed-width font (l/1, O/0 never confused; the alphabet has neither), on a light ground.
        self.password.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace; font-size: 24pt; font-weight: bold;"
                                    " letter-spacing: 2px; padding: 10px; background: #f3f6fa; color: #1d2b3a;")
        self.password.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.password.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.password)
        note = QLabel(tr("Give it in person. It is shown only this once; at the first sign-in with it the user "
                         "chooses their own password.",
                         "À remettre en main propre. Il n'est affiché qu'une fois ; à la première connexion avec "
                         "lui, l'utilisateur choisit son propre mot de passe."))
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText(tr("I have noted it — close",
                                                                         "Je l'ai noté — fermer"))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(lambda _r: self.password.clear())  # not kept on screen once closed


class _FormDialog(QDialog):
    """A small form whose OK runs ``action``: a refusal is one line under the fields and the dialog stays open
    with what was typed."""

    def __init__(self, parent: QWidget | None, title: str, ok_text: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.action: Callable[[], Any] = lambda: None
        self.result_value: Any = None
        self._focused = False
        layout = QVBoxLayout(self)
        self.intro = named(QLabel(), "subtitle")
        self.intro.setWordWrap(True)
        self.intro.setVisible(False)
        layout.addWidget(self.intro)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(ok_text)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel", "Annuler"))
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def say(self, text: str) -> None:
        self.intro.setText(text)
        self.intro.setVisible(True)

    def showEvent(self, event: QShowEvent) -> None:
        # The focus starts in the first field, not on the OK button (created first, so first in the focus chain):
        # typing a reason pressed "Disable" at the first space.
        super().showEvent(event)
        if not self._focused:
            self._focused = True
            for row in range(self.form.rowCount()):
                item = self.form.itemAt(row, QFormLayout.ItemRole.FieldRole)
                field = item.widget() if item is not None else None
                if field is not None and field.focusPolicy() != Qt.FocusPolicy.NoFocus:
                    field.setFocus(Qt.FocusReason.OtherFocusReason)
                    break

    def _accept(self) -> None:
        try:
            self.result_value = self.action()
        except CrfError as exc:
            self.error.setText(error_text(exc))
            return
        self.accept()


class AccountsPanel(QWidget):
    """The accounts table and its actions (embedded in the administrator's main window)."""

    changed = Signal()

    def __init__(self, ws: Workspace, ops: Ops, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ws, self.ops = ws, ops
        self.users: list[UserInfo] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.site_line = named(QLabel(), "subtitle")
        self.site_line.setWordWrap(True)
        self.site_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.site_line)
        self.table = named(QTableWidget(0, 4), "accounts")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._selection)
        layout.addWidget(self.table, 1)
        self.status = named(QLabel(), "subtitle")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        row = QHBoxLayout()
        self.add_button = named(QPushButton(), "primary")
        self.add_button.clicked.connect(self.add_user)
        self.reset_button = QPushButton()
        self.reset_button.clicked.connect(self.reset_password)
        self.disable_button = QPushButton()
        self.disable_button.clicked.connect(self.disable_user)
        self.enable_button = QPushButton()
        self.enable_button.clicked.connect(self.enable_user)
        for button in (self.add_button, self.reset_button, self.disable_button, self.enable_button):
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        self._status_text: L | BaseException | None = None  # the screen's line, kept to say it again in a switch
        self.retranslate()

    def set_workspace(self, ws: Workspace) -> None:
        self.ws = ws
        self.refresh()

    def retranslate(self) -> None:
        self.table.setHorizontalHeaderLabels([tr("User name", "Identifiant"), tr("Full name", "Nom complet"),
                                              tr("Role", "Rôle"), tr("State", "État")])
        header = self.table.horizontalHeader()
        for col in range(3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.add_button.setText(tr("Add a user…", "Ajouter un utilisateur…"))
        self.reset_button.setText(tr("Reset the password…", "Réinitialiser le mot de passe…"))
        self.disable_button.setText(tr("Disable…", "Désactiver…"))
        self.enable_button.setText(tr("Enable again…", "Réactiver…"))
        if self._status_text is not None:
            self._say(self._status_text)
        self.refresh()

    def refresh(self) -> None:
        if self.ws.locked or not self.ws.can(Perm.MANAGE_USERS) or self.isHidden():
            return
        try:
            settings = self.ws.settings.all()
            self.users = self.ws.accounts.list_users()
        except CrfError as exc:  # on the screen's line; an administrator's account disabled also ends her session
            self.ops.refused(exc, on_error=self._say)
            return
        self.site_line.setText(tr(f"Site {settings.get('site_number', '')} — {settings.get('site_name', '')}. "
                                  f"Database: {self.ws.site.db_path}",
                                  f"Site {settings.get('site_number', '')} — {settings.get('site_name', '')}. "
                                  f"Base : {self.ws.site.db_path}"))
        selected = self.selected()
        self.table.setRowCount(len(self.users))
        lang = current_lang()
        for row, user in enumerate(self.users):
            for col, text in enumerate((user.username, user.full_name, user.role.label(lang), state_text(user))):
                item = QTableWidgetItem(text)
                if not user.active:
                    item.setForeground(Qt.GlobalColor.darkGray)
                self.table.setItem(row, col, item)
        if selected is not None:
            self.select(selected.username)
        self._selection()

    def on_changes(self, changes: Changes) -> None:
        """Any write's change record (a packet import brings accounts disabled or enabled again on another
        workstation, or new site settings): the table and the site line are read again when it touches them."""
        if changes.accounts or changes.settings:
            self.refresh()

    def select(self, username: str) -> None:
        for row, user in enumerate(self.users):
            if user.username == username:
                self.table.selectRow(row)
                self.table.scrollTo(self.table.model().index(row, 0))
                return

    def selected(self) -> UserInfo | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.users):
            return None
        return self.users[rows[0].row()]

    def _selection(self) -> None:
        user = self.selected()
        me = self.ws.actor.username
        self.reset_button.setEnabled(user is not None and user.active)
        self.disable_button.setEnabled(user is not None and user.active and user.username != me)
        self.enable_button.setEnabled(user is not None and (not user.active or user.disabled_on is not None))
        # Disabled on another workstation: both act here, each says which way.
        elsewhere = user.disabled_on if user is not None and user.active else None
        self.disable_button.setToolTip(tr(
            "Disable it here too: revokes its key on this workstation (the database gets a new key).",
            "Le désactiver ici aussi : révoque sa clé sur ce poste (la base reçoit une nouvelle clé).")
            if elsewhere else "")
        self.enable_button.setToolTip(tr(
            f"Lift here the disable made on {elsewhere}: the account signs in here again (one-time password).",
            f"Lever ici la désactivation faite sur le poste {elsewhere} : le compte se connecte de nouveau ici "
            f"(mot de passe à usage unique).") if elsewhere else "")

    # ----- actions ---------------------------------------------------------------------------------------------
    def _done(self, username: str, text: L | BaseException) -> None:
        self.refresh()
        self.select(username)
        self._say(text)

    def _say(self, text: L | BaseException) -> None:
        """The screen's line; said again in the other language after a switch (``retranslate``)."""
        self._status_text = text
        self.status.setText(text.get() if isinstance(text, L) else error_text(text))
        self.changed.emit()

    def _run_dialog(self, dialog: _FormDialog, then: Callable[[Any], None]) -> None:
        """Open ``dialog`` window-modal (nothing else of the app waits for it); ``then`` its result once accepted."""
        self.dialog = dialog
        dialog.accepted.connect(lambda: then(dialog.result_value))
        dialog.open()

    def add_user(self) -> None:
        dialog = _FormDialog(self, tr("Add a user", "Ajouter un utilisateur"), tr("Create", "Créer"))
        username = named(QLineEdit(), "new_username")
        full_name = named(QLineEdit(), "new_full_name")
        role = named(QComboBox(), "new_role")
        for r in ROLES:
            role.addItem(r.label(current_lang()), r.value)
        dialog.form.addRow(tr("User name (3 to 32: a-z, 0-9, . - _)", "Identifiant (3 à 32 : a-z, 0-9, . - _)"),
                           username)
        dialog.form.addRow(tr("Full name", "Nom complet"), full_name)
        dialog.form.addRow(tr("Role", "Rôle"), role)
        dialog.action = lambda: self.ops.run(
            lambda: self.ws.accounts.add_user(username.text(), full_name.text(), str(role.currentData())),
            on_error=_raise)

        def created(issued: IssuedPassword) -> None:
            self._done(issued.username, L(f"Account {issued.username} created.", f"Compte {issued.username} créé."))
            self._show_password(issued, full_name.text().strip(), tr("The account was created.",
                                                                     "Le compte est créé."))

        self._run_dialog(dialog, created)

    def reset_password(self) -> None:
        user = self.selected()
        if user is None:
            return
        dialog = _FormDialog(self, tr("Reset the password", "Réinitialiser le mot de passe"),
                             tr("Reset", "Réinitialiser"))
        dialog.say(tr(f"Give {user.full_name} ({user.username}) a new one-time password? Their current password "
                      f"will no longer open the database.",
                      f"Donner un nouveau mot de passe à usage unique à {user.full_name} ({user.username}) ? Son "
                      f"mot de passe actuel n'ouvrira plus la base."))
        dialog.action = lambda: self.ops.run(lambda: self.ws.accounts.reset_password(user.username), on_error=_raise)

        def reset(issued: IssuedPassword) -> None:
            self._done(user.username, L(f"Password of {user.username} reset.",
                                         f"Mot de passe de {user.username} réinitialisé."))
            self._show_password(issued, user.full_name, tr("The password was reset.",
                                                           "Le mot de passe est réinitialisé."))

        self._run_dialog(dialog, reset)

    def _reason_dialog(self, title: str, ok_text: str, question: str) -> tuple[_FormDialog, QLineEdit]:
        dialog = _FormDialog(self, title, ok_text)
        dialog.say(question)
        reason = named(QLineEdit(), "reason")
        dialog.form.addRow(tr("Reason", "Motif"), reason)
        return dialog, reason

    def disable_user(self) -> None:
        user = self.selected()
        if user is None:
            return
        dialog, reason = self._reason_dialog(
            tr("Disable an account", "Désactiver un compte"), tr("Disable", "Désactiver"),
            tr(f"Disable {user.full_name} ({user.username})? The account can no longer sign in; its records and "
               f"signatures stay. The database then gets a new key (this takes a moment); if the site has other "
               f"workstations, a one-time code is shown for them.",
               f"Désactiver {user.full_name} ({user.username}) ? Le compte ne pourra plus se connecter ; ses "
               f"saisies et signatures restent. La base reçoit ensuite une nouvelle clé (quelques instants) ; si "
               f"le site a d'autres postes, un code à usage unique est affiché pour eux."))
        # The dialog checks what would refuse at once (one line, the dialog stays); the re-key of the whole database
        # then runs off the UI thread with progress (a large database takes seconds).
        dialog.action = lambda: self.ws.accounts.check_disable(user.username, reason.text())

        def disabled(_changes: object) -> None:
            text = L(f"Account {user.username} disabled; the database has a new key.",
                      f"Compte {user.username} désactivé ; la base a une nouvelle clé.")
            if self.ws.accounts.last_rotation is None:
                text = L(f"Account {user.username} disabled. The database key could NOT be changed yet (an "
                          f"account has not signed in since the upgrade): use Administration > Rotate keys later.",
                          f"Compte {user.username} désactivé. La clé de la base n'a PAS encore pu être changée (un "
                          f"compte ne s'est pas connecté depuis la mise à jour) : utilisez Administration > Changer "
                          f"les clés plus tard.")
            self._done(user.username, text)
            from msc_sle_crf.ui.admin_actions import show_packet_code

            self.packet_code_dialog = show_packet_code(self, self.ws, user.username,  # i18-secret: shown once
                                                       already=user.disabled_on)

        def failed(exc: BaseException) -> None:
            self._done(user.username, exc)

        def start(_checked: object) -> None:
            from msc_sle_crf.ui.admin_actions import run_rekey

            run_rekey(self, self.ops, lambda progress: self.ws.accounts.disable_user(user.username, reason.text(),
                                                                                     progress=progress),
                      on_done=disabled, on_error=failed)

        self._run_dialog(dialog, start)

    def enable_user(self) -> None:
        user = self.selected()
        if user is None:
            return
        dialog, reason = self._reason_dialog(
            tr("Enable an account again", "Réactiver un compte"), tr("Enable again", "Réactiver"),
            tr(f"Enable {user.full_name} ({user.username}) again? A one-time password is issued; the old password "
               f"stays useless.",
               f"Réactiver {user.full_name} ({user.username}) ? Un mot de passe à usage unique est émis ; l'ancien "
               f"mot de passe reste inutilisable."))
        dialog.action = lambda: self.ops.run(lambda: self.ws.accounts.enable_user(user.username, reason.text()),
                                             on_error=_raise)

        def enabled(issued: IssuedPassword) -> None:
            self._done(user.username, L(f"Account {user.username} enabled again.",
                                         f"Compte {user.username} réactivé."))
            self._show_password(issued, user.full_name, tr("The account was enabled again.",
                                                           "Le compte est réactivé."))

        self._run_dialog(dialog, enabled)

    def _show_password(self, issued: IssuedPassword, full_name: str, what: str) -> None:
        self.password_dialog = OneTimePasswordDialog(self, issued, full_name, what)
        self.password_dialog.open()


def _raise(exc: CrfError) -> None:
    raise exc
