"""The form engine: declarative ODM-shaped form definitions (``forms/*.yaml``), their compiler, typed values,
registered functions, and the live-validation engine. No Qt, no database: see ``services.entry`` for storage
and ``ui.form`` for the screens."""

from __future__ import annotations

import os
from pathlib import Path

from msc_sle_crf.formdef.compiler import FormSetError, check_dir, compile_study
from msc_sle_crf.formdef.definitions import StudyDef

__all__ = ["FormSetError", "check_dir", "compile_study", "default_forms_dir", "load_study"]


def default_forms_dir() -> Path:
    """``MSC_SLE_CRF_FORMS_DIR`` if set, else the ``forms/`` folder shipped next to the package."""
    override = os.environ.get("MSC_SLE_CRF_FORMS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "forms"


_compiled: dict[tuple[Path, tuple[tuple[str, int, int], ...]], StudyDef] = {}


def load_study(directory: Path | None = None) -> StudyDef:
    """Compile the form set, or raise ``FormSetError`` with every problem found. A form set already compiled by
    this process (same files, sizes and modification times) is not compiled again."""
    folder = (directory or default_forms_dir()).resolve()
    try:
        stamp = tuple(sorted((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in folder.glob("*.yaml")))
    except OSError:
        stamp = ()
    key = (folder, stamp)
    study = _compiled.get(key)
    if study is None:
        study = compile_study(folder)
        _compiled.clear()
        _compiled[key] = study
    return study
