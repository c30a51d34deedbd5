"""Which laptop a database is (WS-01, WS-02 of a site with several), said on the sign-in window before the password
opens the database: a nurse with two laptops wants to know which one she is on before she types her password.

The workstation's id is inside the encrypted database; the sign-in window reads what the last sign-in on this
database saw, kept in the program's own settings file (``<data folder>/ui-settings.ini``, as ``last_folders``): one
line per database, named by a digest of its path, holding only the workstation's id ("WS-02": no trial data, no
name, no path). A database never signed in on here (or a site with one workstation) shows no workstation."""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from msc_sle_crf.errors import CrfError
from msc_sle_crf.ui.last_folders import settings_file

if TYPE_CHECKING:
    from msc_sle_crf.services import Workspace

_WS = re.compile(r"WS-\d{2,3}")


def _name(db_path: Path) -> str:
    return "workstation/" + hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:16]


def remember(db_path: Path, ws: Workspace) -> None:
    """After a sign-in: this database's workstation id (nothing for a site with one workstation)."""
    from msc_sle_crf.sync.workstations import Workstations

    with contextlib.suppress(CrfError, OSError):
        info = Workstations(ws.ctx).info()
        settings = settings_file()
        if info.alone:
            settings.remove(_name(db_path))
        else:
            settings.setValue(_name(db_path), info.ws)
        settings.sync()


def recall(db_path: Path) -> str | None:
    """The workstation id the last sign-in on this database saw, if any."""
    if not str(db_path):
        return None
    value = settings_file().value(_name(db_path))
    return str(value) if isinstance(value, str) and _WS.fullmatch(value) else None
