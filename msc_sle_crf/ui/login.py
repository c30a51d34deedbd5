"""Sign-in screen: nothing secret is listed (no user names), except the published accounts of a TRAINING base.

It is the first thing a user sees, so it loads nothing heavy: no database layer, no forms. At start-up it is shown
before the site is opened (``set_site`` once it is, in the background); a sign-in asked before that waits for it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf import PROTOCOL_NUMBER, STUDY_NAME
from msc_sle_crf.access import Perm
from msc_sle_crf.demo_accounts import DEMO_ACCOUNTS
from msc_sle_crf.errors import CrfError
from msc_sle_crf.i18n import Lang, current_lang, set_lang
from msc_sle_crf.ui import known_workstation
from msc_sle_crf.ui.common import error_text, run_in_background, tr

if TYPE_CHECKING:
    from msc_sle_crf.formdef.definitions import StudyDef
    from msc_sle_crf.services import Site, Workspace
    from msc_sle_crf.ui.first_password import ChoosePasswordPage


class LoginWindow(QWidget):
    signed_in = Signal(object)  # Workspace
    language_changed = Signal()

    def __init__(self, site: Site | None = None, *, study: StudyDef | None = None, db_path: Path | None = None,
                 training: bool = False) -> None:
        super().__init__()
        self.site = site
        self.study = study
        # Until the site is open (start-up): its file name, and the TRAINING flag read from its key file.
        self.db_path = site.db_path if site is not None else Path(db_path or "")
        self.training_db = site.training if site is not None else training
        self._waiting = False  # "Sign in" was pressed before the site was open
        self.setObjectName("login")
        self.resize(900, 640)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        card = QFrame()
        card.setObjectName("card")
        card.setFixedWidth(460)
        form = QVBoxLayout(card)
        form.setContentsMargins(36, 28, 36, 28)
        form.setSpacing(10)
        self.title = QLabel()
        self.title.setObjectName("title")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("subtitle")
        self.subtitle.setWordWrap(True)
        form.addWidget(self.title)
        form.addWidget(self.subtitle)
        self.training = QLabel()
        self.training.setObjectName("training")
        self.training.setWordWrap(True)
        self.training.setVisible(self.training_db)
        form.addWidget(self.training)
        self.user_label = QLabel()
        self.user = QLineEdit()
        self.user.setObjectName("username")
        self.user.setAccessibleName("username")
        self.password_label = QLabel()
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        for widget in (self.user_label, self.user, self.password_label, self.password):
            form.addWidget(widget)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        form.addWidget(self.error)
        self.progress = QLabel()  # what the start-up is doing (a first start makes the TRAINING database)
        self.progress.setObjectName("subtitle")
        self.progress.setWordWrap(True)
        self.progress.setVisible(False)
        form.addWidget(self.progress)
        buttons = QHBoxLayout()
        self.lang_button = QPushButton()
        self.lang_button.setObjectName("lang")
        self.lang_button.clicked.connect(self._toggle_language)
        self.submit = QPushButton()
        self.submit.setObjectName("primary")
        self.submit.setDefault(True)
        self.submit.clicked.connect(self._submit)
        buttons.addWidget(self.lang_button)
        buttons.addStretch(1)
        buttons.addWidget(self.submit)
        form.addLayout(buttons)
        self.db_label = QLabel()
        self.db_label.setObjectName("subtitle")
        self.db_label.setWordWrap(True)
        form.addWidget(self.db_label)
        row.addWidget(card)
        self.card = card
        self._row = row
        self._choose: ChoosePasswordPage | None = None  # made when first needed (``choose``)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        self.user.returnPressed.connect(self.password.setFocus)
        self.password.returnPressed.connect(self._submit)
        self.retranslate()
        self.user.setFocus()

    @property
    def choose(self) -> ChoosePasswordPage:
        """The "choose your password" page (first sign-in with a one-time password), in place of the card when shown;
        made on first use, not before the window first shows."""
        if self._choose is None:
            from msc_sle_crf.ui.first_password import ChoosePasswordPage

            page = ChoosePasswordPage()
            page.setVisible(False)
            page.done.connect(self._password_chosen)
            page.cancelled.connect(self._back_to_sign_in)
            self._row.insertWidget(self._row.indexOf(self.card) + 1, page)
            self._choose = page
        return self._choose

    def retranslate(self) -> None:
        self.setWindowTitle(f"{STUDY_NAME} eCRF — {tr('Sign in', 'Connexion')}")
        self.title.setText(f"{STUDY_NAME} eCRF")
        here = known_workstation.recall(self.db_path)  # which laptop, before the password (as last seen here)
        self.subtitle.setText(tr(f"Protocol {PROTOCOL_NUMBER} — ", f"Protocole {PROTOCOL_NUMBER} — ")
                              + (tr(f"Workstation {here} · ", f"Poste {here} · ") if here else "")
                              + tr("Saint-Louis Hospital, Paris", "Hôpital Saint-Louis, Paris"))
        accounts = "\n".join(f"{u}  /  {p}" for u, _n, _r, p in DEMO_ACCOUNTS) if self.training_db else ""
        self.training.setText(tr("TRAINING DATABASE — never enter real patient data.\nDemo accounts:\n",
                                 "BASE DE FORMATION — ne jamais saisir de vraies données patient.\n"
                                 "Comptes de démonstration :\n") + accounts)
        self.user_label.setText(tr("User name", "Nom d'utilisateur"))
        self.password_label.setText(tr("Password", "Mot de passe"))
        self.submit.setText(tr("Sign in", "Se connecter"))
        self.lang_button.setText("English" if current_lang() is Lang.FR else "Français")
        if self._choose is not None:
            self._choose.retranslate()
        self.db_label.setText(tr("Database: ", "Base : ") + self.db_path.name)

    def _toggle_language(self) -> None:
        set_lang(Lang.EN if current_lang() is Lang.FR else Lang.FR)
        self.retranslate()
        self.language_changed.emit()

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.user, self.password, self.submit):
            widget.setEnabled(not busy)
        if busy:
            self.error.setText(tr("Checking…", "Vérification…") if self.site is not None else
                               tr("Opening the database…", "Ouverture de la base…"))

    def set_site(self, site: Site, study: StudyDef | None = None) -> None:
        """The site, opened in the background after this window was shown: a waiting sign-in goes on."""
        self.site, self.study = site, study
        self.db_path, self.training_db = site.db_path, site.training
        self.training.setVisible(site.training)
        self.retranslate()
        if self._waiting:
            self._waiting = False
            self._submit()

    def show_progress(self, text: str) -> None:
        """What the start-up is doing (creating the TRAINING database on a first start); empty: done."""
        self.progress.setText(text)
        self.progress.setVisible(bool(text))

    def _submit(self) -> None:
        username, password = self.user.text().strip(), self.password.text()
        if not username or not password:
            self.error.setText(tr("Enter your user name and password.",
                                  "Saisissez votre nom d'utilisateur et votre mot de passe."))
            return
        self._set_busy(True)
        site = self.site
        if site is None:  # still opening: signed in as soon as it is open
            self._waiting = True
            return
        study = self.study
        from msc_sle_crf.services import Workspace

        def sign_in() -> Workspace:
            ws = Workspace.sign_in(site, username, password, study=study)
            if ws.can(Perm.VIEW_DATA) and not ws.actor.must_change_password:
                with contextlib.suppress(CrfError):  # the subject list read meanwhile: the main window shows at once
                    ws.overview.subject_rows()
            return ws

        run_in_background(sign_in, lambda ws: self._ok(ws, password), self._failed)

    def _ok(self, ws: Workspace, password: str = "") -> None:
        self._set_busy(False)
        known_workstation.remember(self.db_path, ws)
        self.error.clear()
        self.password.clear()
        if ws.actor.must_change_password:  # a one-time password: the user chooses their own first
            self.card.setVisible(False)
            self.choose.setVisible(True)
            self.choose.start(ws, password)
            return
        self.signed_in.emit(ws)

    def _password_chosen(self, ws: Workspace) -> None:
        self.choose.setVisible(False)
        self.card.setVisible(True)
        self.signed_in.emit(ws)

    def _back_to_sign_in(self) -> None:
        self.choose.setVisible(False)
        self.card.setVisible(True)
        self.reset()

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.error.setText(error_text(exc))
        self.password.clear()
        self.password.setFocus()

    def reset(self) -> None:
        self.user.clear()
        self.password.clear()
        self.error.clear()
        self.user.setFocus()
        self.retranslate()


