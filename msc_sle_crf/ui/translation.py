"""Qt's own words in the user's language: the buttons of message boxes and button boxes (OK, Cancel, Yes, Save...),
the file dialog ("File name", "Look in"), the context menus of text fields; and the numbers and dates Qt formats
(``QLocale``: "38,4" in French).

The translation is Qt's own ``qtbase_fr.qm``, shipped in the PySide6 wheel: found through ``QLibraryInfo`` (the
translations folder of the Qt in use), else beside the ``PySide6`` package (a bundled application), never at a
fixed path. It follows the language chosen at run time (``i18n.set_lang`` tells the listeners)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from msc_sle_crf.i18n import Lang, current_lang, on_lang_change

CATALOGUE = "qtbase"
_LOCALES = {Lang.FR: QLocale(QLocale.Language.French, QLocale.Country.France),
            Lang.EN: QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom)}


def translation_dirs() -> list[Path]:
    """Where Qt's translations may be: the Qt in use says where first; the PySide6 package's own folder next."""
    dirs = [Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))]
    spec = importlib.util.find_spec("PySide6")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        dirs.append(Path(location) / "Qt" / "translations")
        dirs.append(Path(location) / "translations")
    return dirs


def find_catalogue(lang: Lang) -> Path | None:
    """``qtbase_fr.qm`` (or None when absent: Qt's words then stay English, nothing else breaks)."""
    for folder in translation_dirs():
        candidate = folder / f"{CATALOGUE}_{lang.value}.qm"
        if candidate.is_file():
            return candidate
    return None


class QtLanguage:
    """Qt's words and formats follow the program's language. The translator itself is ``qt_i18n``'s (the one the
    self-check and the bundle test); when the Qt in use has no translations folder, the PySide6 package's copy is
    loaded instead."""

    def apply(self, lang: Lang) -> bool:
        """Qt's words and number/date formats in ``lang``; True when Qt's own French translation is loaded."""
        from msc_sle_crf.ui import qt_i18n

        QLocale.setDefault(_LOCALES[lang])
        if qt_i18n.apply(lang) or lang is Lang.EN:
            return lang is not Lang.EN
        app = QCoreApplication.instance()
        path = find_catalogue(lang)
        if app is None or path is None:
            return False
        translator = QTranslator(app)
        if not translator.load(str(path)):
            return False
        app.installTranslator(translator)
        qt_i18n._installed.append(translator)  # removed by qt_i18n.apply at the next change
        return True


_qt_language = QtLanguage()


def install() -> QtLanguage:
    """Call once the QApplication exists: Qt's words follow the program's language from now on."""
    _qt_language.apply(current_lang())
    on_lang_change(_qt_language.apply)
    return _qt_language
