"""The form engine: declarative ODM-shaped form definitions (``forms/*.yaml``), their compiler, typed values,
registered functions, and the live-validation engine. No Qt, no database: see ``services.entry`` for storage
and ``ui.form`` for the screens."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from msc_sle_crf.formdef.compiler import FormSetError, check_dir, compile_study
from msc_sle_crf.formdef.definitions import StudyDef

__all__ = ["FormSetError", "check_dir", "compile_study", "default_forms_dir", "load_study"]


def default_forms_dir() -> Path:
    """``MSC_SLE_CRF_FORMS_DIR`` if set, else the ``forms/`` folder shipped with the package (``shipped.py``)."""
    override = os.environ.get("MSC_SLE_CRF_FORMS_DIR")
    if override:
        return Path(override)
    from msc_sle_crf.shipped import forms_dir

    return forms_dir()


_compiled: dict[tuple[Path, tuple[tuple[str, int, int], ...]], StudyDef] = {}

CACHE_FORMAT = 1


def load_study(directory: Path | None = None) -> StudyDef:
    """Compile the form set, or raise ``FormSetError`` with every problem found. A form set already compiled by
    this process (same files, sizes and modification times) is not compiled again, nor one compiled by an earlier
    run (the on-disk cache: see ``_cached``)."""
    folder = (directory or default_forms_dir()).resolve()
    try:
        stamp = tuple(sorted((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in folder.glob("*.yaml")))
    except OSError:
        stamp = ()
    key = (folder, stamp)
    study = _compiled.get(key)
    if study is None:
        study = _cached(folder)
        _compiled.clear()
        _compiled[key] = study
    return study


def _digest(folder: Path) -> tuple[str, str]:
    """(the form files' SHA-256, the compiler's own): what a compiled study depends on."""
    files = hashlib.sha256()
    for path in sorted(folder.glob("*.yaml")):
        files.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    code = hashlib.sha256(f"{CACHE_FORMAT}".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        code.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return files.hexdigest(), code.hexdigest()


def _cached(folder: Path) -> StudyDef:
    """The compiled study from the user's cache when it was compiled from these very files by this very compiler
    (their SHA-256 recorded with it, recomputed now), else compiled and cached. Data only (JSON validated by the
    definitions' schema, never code), written atomically, readable by the user only; any doubt compiles again."""
    from msc_sle_crf.locations import cache_dir

    try:
        files, code = _digest(folder)
    except OSError:
        return compile_study(folder)
    # Named by both digests: versions of the program sharing the user's cache (an upgrade and its rollback, checkouts
    # side by side) keep their own copy instead of compiling again in turn.
    path = cache_dir() / "compiled-forms" / f"{files[:32]}-{code[:16]}.json"
    study = _read_cache(path, files, code)
    if study is not None:
        return study
    study = compile_study(folder)
    with contextlib.suppress(OSError, ValueError):
        from msc_sle_crf.fileutil import atomic_write_bytes

        header = {"format": CACHE_FORMAT, "files": files, "code": code,
                  "hashes": {f: d.content_hash() for f, d in study.forms.items()}}
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_bytes(path, (json.dumps(header) + "\n" + study.model_dump_json()).encode(), mode=0o600)
    return study


def _read_cache(path: Path, files: str, code: str) -> StudyDef | None:
    try:
        with open(path, encoding="utf-8") as fh:
            header = json.loads(fh.readline())
            body = fh.read()
        if header.get("format") != CACHE_FORMAT or header.get("files") != files or header.get("code") != code:
            return None
        study = StudyDef.model_validate_json(body)
        if {f: d.content_hash() for f, d in study.forms.items()} != header.get("hashes"):
            return None
        return study
    except (OSError, ValueError, AttributeError):
        return None
