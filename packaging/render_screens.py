"""Render the main screens to PNG (offscreen) so they can be looked at: python packaging/render_screens.py OUTDIR"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.security.keyslots import KdfParams
from msc_sle_crf.services import Services
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.common import STYLE
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    site = create_demo(Path(tempfile.mkdtemp()) / "demo.crfdb", kdf=KdfParams(1, 1024, 1))
    for lang in (Lang.FR, Lang.EN):
        set_lang(lang)
        login = LoginWindow(site)
        login.resize(1280, 800)
        login.show()
        app.processEvents()
        login.grab().save(str(out / f"login-{lang}.png"))
        login.close()
        main_window = MainWindow(Services.sign_in(site, "dr.martin", "training-doctor"), idle_ms=10**9)
        main_window.resize(1280, 800)
        main_window.show()
        app.processEvents()
        main_window.grab().save(str(out / f"main-{lang}.png"))
        main_window.lock()
        app.processEvents()
        main_window.grab().save(str(out / f"lock-{lang}.png"))
        main_window.close()
    site.close()
    print(f"screens written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots"))
