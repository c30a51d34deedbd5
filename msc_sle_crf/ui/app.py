"""Application entry point: open (or create) the database, sign in, main window."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msc_sle_crf.errors import CrfError
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.locations import default_demo_db

if TYPE_CHECKING:
    from msc_sle_crf.formdef.definitions import StudyDef
    from msc_sle_crf.services import Site, Workspace
    from msc_sle_crf.ui.main_window import MainWindow


class App:
    """Holds the site and switches between the sign-in window and the main window."""

    def __init__(self, site: Site, *, idle_ms: int | None = None, study: StudyDef | None = None) -> None:
        from msc_sle_crf.ui.login import LoginWindow

        self.site = site
        self.study = study
        self.idle_ms = idle_ms
        self.login = LoginWindow(site, study=study)
        self.login.signed_in.connect(self._signed_in)
        self.main: MainWindow | None = None

    def start(self) -> None:
        self.login.show()

    def _signed_in(self, ws: Workspace) -> None:
        from msc_sle_crf.ui.main_window import MainWindow

        self.main = MainWindow(ws, idle_ms=self.idle_ms)
        if ws.actor.must_change_password and not self.main.change_password(forced=True):
            ws.logout()
            self.main.deleteLater()
            self.main = None
            self.login.reset()
            return
        self.main.logged_out.connect(self._logged_out)
        self.login.hide()
        self.main.show()

    def _logged_out(self) -> None:
        self.main = None
        self.login.reset()
        self.login.show()


def ensure_demo(db: Path) -> None:
    if db.exists():
        return
    from msc_sle_crf.services.demo import create_demo, demo_accounts_text

    create_demo(db).close()
    print(demo_accounts_text(db))


def exit_after_first_paint(window: Any) -> None:
    """Start-up benchmark (benchmarks/bench_startup.py): with MSC_SLE_CRF_EXIT_AFTER_PAINT set, the process ends as
    soon as ``window`` has painted once (the same hook ends its floor, a bare PySide6 window)."""
    if not os.environ.get("MSC_SLE_CRF_EXIT_AFTER_PAINT"):
        return
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:  # ends once this paint is done
                QTimer.singleShot(0, lambda: (print("painted", flush=True), os._exit(0)))
            return False

    window._first_paint = FirstPaint(window)
    window.installEventFilter(window._first_paint)


def run_gui(db: Path | None, *, lang: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from msc_sle_crf.errors import Msg
    from msc_sle_crf.formdef import FormSetError, default_forms_dir, load_study
    from msc_sle_crf.services import Site
    from msc_sle_crf.ui.common import STYLE, tr

    if lang:
        set_lang(Lang(lang))
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName("MSC-SLE eCRF")
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    try:  # the app refuses to start on an invalid form set, and says why
        study = load_study()
    except FormSetError as exc:
        text = Msg.FORMS_INVALID.render(path=default_forms_dir(), count=len(exc.errors),
                                        errors="\n".join(str(e) for e in exc.errors[:30]))
        print(f"msc-sle-crf: {text}", file=sys.stderr)
        QMessageBox.critical(None, tr("Invalid form definitions", "Définitions de formulaires invalides"), text)
        return 2
    try:
        if db is None:
            db = default_demo_db()
            ensure_demo(db)
        site = Site.open(db)
    except CrfError as exc:
        QMessageBox.critical(None, tr("Cannot open the database", "Impossible d'ouvrir la base"), exc.message())
        print(f"msc-sle-crf: {exc.message()}", file=sys.stderr)
        return exc.exit_code
    shell = App(site, study=study)
    shell.start()
    exit_after_first_paint(shell.login)
    try:
        return int(app.exec())
    finally:
        site.close()
