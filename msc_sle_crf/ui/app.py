"""Application entry point: the sign-in window first, then (in the background) the forms and the database, then the
main window.

The sign-in window is on screen before the database layer (SQLAlchemy, Alembic, SQLCipher), the services or the
forms are loaded: they load in the background once it has painted, while the user types a name and a password
(``benchmarks/bench_startup.py`` times it as a whole process against a bare PySide6 window). A sign-in pressed
before the database is open waits for it; a form set that does not compile, or a database that cannot be opened,
ends the program with one clear message, as before.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from msc_sle_crf.errors import CrfError
from msc_sle_crf.i18n import L, Lang, current_lang, set_lang
from msc_sle_crf.locations import default_demo_db

if TYPE_CHECKING:
    from msc_sle_crf.formdef.definitions import StudyDef
    from msc_sle_crf.services import Site, Workspace
    from msc_sle_crf.ui.login import LoginWindow
    from msc_sle_crf.ui.main_window import MainWindow
    from msc_sle_crf.ui.window_policy import ScreenFit


class App:
    """Holds the site and switches between the sign-in window and the main window."""

    def __init__(self, site: Site | None, *, idle_ms: int | None = None, study: StudyDef | None = None,
                 login: LoginWindow | None = None, fit_later: bool = False) -> None:
        """``fit_later``: the screen-fit policy is installed by ``fit_windows_to_screen`` (at start-up, once the
        sign-in window has painted: the policy and Qt's namespace it reads cost ~30 ms before that)."""
        from msc_sle_crf.ui.login import LoginWindow

        self.site = site
        self.study = study
        self.idle_ms = idle_ms
        self.login = login if login is not None else LoginWindow(site, study=study)
        self.login.signed_in.connect(self._signed_in)
        self.main: MainWindow | None = None
        self.screen_fit: ScreenFit | None = None
        if not fit_later:
            self.fit_windows_to_screen()

    def fit_windows_to_screen(self) -> None:
        """Every window opens within the screen (those already shown are checked now)."""
        from msc_sle_crf.ui.window_policy import ScreenFit

        if self.screen_fit is None:
            self.screen_fit = ScreenFit()
            self.screen_fit.install()

    def start(self) -> None:
        self.login.show()

    def opened(self, site: Site, study: StudyDef) -> None:
        """The site and the forms, loaded in the background after the sign-in window was shown."""
        self.site, self.study = site, study
        self.login.set_site(site, study)

    def _signed_in(self, ws: Workspace) -> None:
        from msc_sle_crf.ui.main_window import MainWindow

        # A one-time password was replaced on the sign-in window's "choose your password" page before this.
        self.main = MainWindow(ws, idle_ms=self.idle_ms)
        self.main.logged_out.connect(self._logged_out)
        self.main.restore_requested.connect(self._restore)
        self.login.hide()
        self.main.show()
        from msc_sle_crf.pdf import warm_in_background

        on_first_paint(self.main, warm_in_background)  # the first print need not wait for reportlab and pyHanko

    def _restore(self, request: object) -> None:
        from msc_sle_crf.ui.restore import RestoreRequest, run_restore

        assert isinstance(request, RestoreRequest)
        run_restore(self, request)

    def _logged_out(self) -> None:
        self.main = None
        self.login.reset()
        self.login.show()

    def uncaught(self, exc: BaseException) -> None:
        """An exception no slot handled (PySide prints it and the click does nothing otherwise): a disabled
        account's refusal ends the session as everywhere (``MainWindow.end_session``); any other is shown, one line
        (an unexpected error with its incident number, logged)."""
        from PySide6.QtWidgets import QApplication, QMessageBox

        from msc_sle_crf.ui.common import error_text, tr
        from msc_sle_crf.ui.ops import ends_session

        if ends_session(exc) and self.main is not None:
            assert isinstance(exc, CrfError)
            self.main.end_session(exc)
            return
        QMessageBox.warning(QApplication.activeWindow(), tr("Error", "Erreur"), error_text(exc))


class _Relay(QObject):
    """Carries the start-up's progress from the background thread to the window (a queued signal)."""

    said = Signal(str)


def ensure_demo(db: Path, study: StudyDef | None = None, progress: Callable[[L], None] | None = None) -> None:
    if db.exists():
        return
    from msc_sle_crf.services.demo import create_demo, demo_accounts_text

    create_demo(db, study=study, progress=progress).close()
    print(demo_accounts_text(db))


def training_flag(db: Path) -> bool:
    """Whether the database is a TRAINING one, as its key file says, read without checking it (only to show the
    banner before the site is opened; the checked key file decides once it is, see ``LoginWindow.set_site``)."""
    try:
        with open(f"{db}.keys", "rb") as fh:
            document = json.loads(fh.read(1 << 20))
        return isinstance(document, dict) and document.get("training") is True
    except (OSError, ValueError):
        return False


def open_site(db: Path, creating: bool, progress: Callable[[L], None] | None = None) -> tuple[Site, StudyDef]:
    """The start-up's heavy part (a background thread): the forms compiled (or read from the cache), the TRAINING
    database made on a first start (``progress``: its steps), the site opened."""
    from msc_sle_crf.formdef import load_study
    from msc_sle_crf.services import Site

    study = load_study()
    if creating:
        ensure_demo(db, study, progress)
    return Site.open(db), study


def on_first_paint(window: Any, action: Callable[[], None]) -> None:
    """``action`` once ``window`` has painted for the first time (then the event loop goes on)."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        done = False

        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not self.done:
                self.done = True
                QTimer.singleShot(0, action)
            return False

    hook = FirstPaint(window)
    window.installEventFilter(hook)
    window._first_paint_hooks = [*getattr(window, "_first_paint_hooks", []), hook]  # kept alive with the window


def exit_after_first_paint(window: Any) -> None:
    """Start-up benchmark (benchmarks/bench_startup.py): with MSC_SLE_CRF_EXIT_AFTER_PAINT set, the process ends as
    soon as ``window`` has painted once (the same hook ends its floor, a bare PySide6 window)."""
    if os.environ.get("MSC_SLE_CRF_EXIT_AFTER_PAINT"):
        def end() -> None:
            print("painted", flush=True)
            os._exit(0)

        on_first_paint(window, end)


def refusal(exc: BaseException) -> tuple[str, str, int]:
    """(title, message, exit status) for what stops the program at start-up."""
    from msc_sle_crf.errors import Msg
    from msc_sle_crf.formdef import FormSetError, default_forms_dir
    from msc_sle_crf.ui.common import error_text, tr

    if isinstance(exc, FormSetError):  # the app refuses to start on an invalid form set, and says why
        text = Msg.FORMS_INVALID.render(path=default_forms_dir(), count=len(exc.errors),
                                        errors="\n".join(str(e) for e in exc.errors[:30]))
        return tr("Invalid form definitions", "Définitions de formulaires invalides"), text, 2
    if isinstance(exc, CrfError):
        return tr("Cannot open the database", "Impossible d'ouvrir la base"), exc.message(), exc.exit_code
    return tr("Cannot start", "Démarrage impossible"), error_text(exc), 70


def run_gui(db: Path | None, *, lang: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from msc_sle_crf.ui.common import STYLE, run_in_background
    from msc_sle_crf.ui.login import LoginWindow

    if lang:
        set_lang(Lang(lang))
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName("MSC-SLE eCRF")
    # The window policies ride on the style: an App made earlier in this process switched them on (their module is
    # loaded only after the first paint otherwise), and setStyle alone would drop them.
    policy = sys.modules.get("msc_sle_crf.ui.window_policy")
    if policy is not None:
        policy.use_style("Fusion")
    else:
        app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    from msc_sle_crf.ui import translation

    translation.install()  # Qt's own buttons, file dialog and number formats in the user's language
    creating = db is None and not default_demo_db().exists()
    db = Path(db) if db is not None else default_demo_db()
    login = LoginWindow(None, db_path=db, training=creating or training_flag(db))
    shell = App(None, login=login, fit_later=True)
    relay = _Relay(login)  # the background thread's progress, shown by the window's thread
    relay.said.connect(login.show_progress)
    creating_text = L("Creating the TRAINING database (first start)", "Création de la base de FORMATION (premier "
                      "démarrage)")
    if creating:
        login.show_progress(creating_text.get() + "…")

    def failed(exc: BaseException) -> None:
        title, text, code = refusal(exc)
        print(f"msc-sle-crf: {text}", file=sys.stderr)
        QMessageBox.critical(None, title, text)
        app.exit(code)

    def opened(result: tuple[Site, StudyDef]) -> None:
        shell.opened(*result)
        if creating:
            login.show_progress("")

    shell.start()
    # Once the window has painted (the hook installed last runs first): the database opened in the background, then
    # the screen-fit policy installed (the sign-in window checked too). The start-up benchmark's exit comes first, as
    # in its floor: what follows the first paint is not part of the wait it times.
    on_first_paint(login, shell.fit_windows_to_screen)
    on_first_paint(login, lambda: run_in_background(
        lambda: open_site(db, creating, lambda step: relay.said.emit(f"{creating_text.get()} : {step.get()}…"
                                                                     if current_lang() is Lang.FR else
                                                                     f"{creating_text.get()}: {step.get()}…")),
        opened, failed))
    exit_after_first_paint(login)
    previous_hook = sys.excepthook

    def uncaught(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: as before
            previous_hook(kind, exc, tb)
            return
        try:
            shell.uncaught(exc)
        except Exception:  # the hook itself must not fail: the original report still goes out
            previous_hook(kind, exc, tb)

    sys.excepthook = uncaught  # a slot's uncaught exception (PySide calls the hook), not a silent no-op
    try:
        return int(app.exec())
    finally:
        sys.excepthook = previous_hook
        from msc_sle_crf.ui.backups import wait_for_backups

        wait_for_backups()  # a backup started at the last log-out finishes before the database closes
        if shell.site is not None:
            shell.site.close()
        login.close()
