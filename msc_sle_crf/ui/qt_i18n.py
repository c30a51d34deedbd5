"""Qt's own words (the buttons of message boxes and file dialogs: Yes/No, Cancel, Open...) in the app's language:
``qtbase_fr.qm`` from the PySide6 wheel (collected into the bundle by ``packaging/msc-sle-crf.spec``), loaded with a
``QTranslator`` when the language is French and removed when it is English."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QTranslator

from msc_sle_crf.i18n import Lang, current_lang

_installed: list[QTranslator] = []


def translations_dir() -> Path:
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))


def apply(lang: Lang | None = None) -> bool:
    """Install (French) or remove (English) Qt's translation. Returns whether French is installed."""
    app = QCoreApplication.instance()
    if app is None:
        return False
    while _installed:
        app.removeTranslator(_installed.pop())
    if (lang or current_lang()) is not Lang.FR:
        return False
    translator = QTranslator(app)
    if not translator.load("qtbase_fr", str(translations_dir())):
        return False
    app.installTranslator(translator)
    _installed.append(translator)
    return True


def french_cancel() -> str:
    """What Qt calls its Cancel button now ("Annuler" once French is installed): the bundle's smoke check."""
    return QCoreApplication.translate("QPlatformTheme", "Cancel")


def check_french() -> str:
    """The self-check's step (``msc-sle-crf selfcheck``): Qt's French translation is found and works."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    try:
        word = french_cancel() if apply(Lang.FR) else ""
    finally:
        apply()  # back to the current language
    del app
    if word != "Annuler":
        raise RuntimeError(f"Qt's French translation not found in {translations_dir()}")
    return f"Qt's French translation from {translations_dir()} (Cancel -> {word})"
