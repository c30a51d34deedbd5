"""Helpers for form tests: the shipped study, a context, and writing a form set to a temporary folder."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

from msc_sle_crf.formdef import default_forms_dir, load_study
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.formdef.engine import FormContext, FormState

STUDY: StudyDef = load_study()
NOW = dt.datetime(2026, 11, 25, 10, 0)


def state_for(form_id: str, *, birth_year: int | None = 1980,
              window: tuple[dt.date, dt.date] | None = None) -> FormState:
    return FormState(STUDY.forms[form_id], FormContext(now=NOW, birth_year=birth_year, window=window),
                     dict(STUDY.meta.codelists))


def copy_forms(tmp: Path) -> Path:
    target = tmp / "forms"
    shutil.copytree(default_forms_dir(), target)
    return target


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path
