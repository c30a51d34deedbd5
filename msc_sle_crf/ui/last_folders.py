"""The folder each kind of file dialog last used (export, packets, backups, signed PDFs...): the next dialog of that
kind starts there instead of the home folder.

Kept in the program's own settings file beside its data (``<data folder>/ui-settings.ini``, a QSettings INI file), one
line per kind: the folder's path only, never a file's name (a PDF's or export's name carries a subject number) and
nothing read from the database. A folder named after a subject (a part like "01-003") is not kept: the nearest folder
above it is. A folder that no longer exists (a USB key taken out) is forgotten: the dialog then starts in the
documents folder."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QSettings

from msc_sle_crf.locations import data_dir

SETTINGS_FILE = "ui-settings.ini"
KINDS = frozenset({"export", "packets", "backup", "restore", "pdf", "csv", "receipt", "check-pdf", "check-receipts",
                   "folder", "file"})


def settings_file() -> QSettings:
    """The program's own settings file beside its data (also the known workstation ids: ui/known_workstation.py)."""
    return QSettings(str(data_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)


# a subject number as the program makes them (site-sequence: "01-003"), anywhere in a folder's name
_SUBJECT = re.compile(r"(?<!\d)\d{2}-\d{3}(?!\d)")


def _kept(folder: Path) -> Path:
    """The folder, or the nearest one above it whose path names no subject."""
    while _SUBJECT.search(str(folder)) and folder.parent != folder:
        folder = folder.parent
    return folder


def _kind(kind: str) -> str:
    return kind if kind in KINDS else "file"


def folder_for(kind: str) -> Path | None:
    """The folder this kind of dialog last used, if it is still there."""
    value = settings_file().value(f"last_folder/{_kind(kind)}", "")
    folder = Path(str(value)) if value else None
    return folder if folder is not None and folder.is_absolute() and folder.is_dir() else None


def remember(kind: str, folder: Path) -> None:
    """The folder a dialog of this kind was used in (a chosen folder, or the folder of a chosen file)."""
    if not folder.is_absolute() or not folder.is_dir():
        return
    folder = _kept(folder)
    if _SUBJECT.search(str(folder)):
        return
    settings = settings_file()
    settings.setValue(f"last_folder/{_kind(kind)}", str(folder))
    settings.sync()
