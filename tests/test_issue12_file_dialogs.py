"""Issue 12: every file dialog of the app speaks the user's language (Qt's French catalogue lacks some of the file
dialog's labels: "Look in", "Files of type", the accept button), not only the PDF save dialog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QPushButton

from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.ui import printing


def words_of(ask: Callable[[], Any]) -> list[str]:
    seen: list[str] = []

    def look() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog) and w.isVisible())
        seen.extend(w.text() for w in dialog.findChildren(QLabel) if w.isVisible() and w.text())
        seen.extend(b.text() for b in dialog.findChildren(QPushButton) if b.isVisible() and b.text())
        dialog.reject()

    QTimer.singleShot(300, look)
    ask()
    return seen


@pytest.mark.parametrize("which", ["open", "folder", "save"])
def test_file_dialogs_are_in_french(qtbot, which: str) -> None:
    set_lang(Lang.FR)
    try:
        ask = {"open": lambda: printing.ask_open_paths(None, "Vérifier un PDF", "PDF (*.pdf)"),
               "folder": lambda: printing.ask_folder(None, "Dossier des sauvegardes"),
               "save": lambda: printing.ask_save_path(None, "Reçu", "recu.json", "JSON (*.json)")}[which]
        words = words_of(ask)
    finally:
        set_lang(Lang.EN)
    assert words, "the dialog was not found"
    english = {"Look in:", "Files of type:", "File name:", "Open", "Save", "Cancel", "Choose", "&Open", "&Save",
               "&Choose", "&Cancel"}
    assert not english & set(words), words
    assert {"Annuler"} & set(words), words
