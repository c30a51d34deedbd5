"""What the program ships besides its code: the form definitions (``forms/``) and the reference tables
(``resources/``, e.g. CTCAE v5.0).

They are package data, found through ``importlib.resources`` in ``msc_sle_crf/data/`` (an installed wheel, or the
PyInstaller bundle, where ``packaging/msc-sle-crf.spec`` puts them); in a source checkout that folder holds
symbolic links to the top-level ``forms/`` and ``resources/`` (the one copy everyone edits), and where links are
not checked out (Windows without symlink support) the top-level folders are used directly.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def data_dir(name: str) -> Path:
    """``forms`` or ``resources``: the shipped folder of that name."""
    packaged = resources.files("msc_sle_crf") / "data" / name
    if packaged.is_dir():
        return Path(str(packaged)).resolve()
    return SOURCE_ROOT / name


def forms_dir() -> Path:
    return data_dir("forms")


def resources_dir() -> Path:
    return data_dir("resources")
