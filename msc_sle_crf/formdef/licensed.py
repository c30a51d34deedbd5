"""Questionnaire wording under licence (SF-36v2: QualityMetric/Optum; EQ-5D-5L: EuroQol).

The repository ships item numbers and neutral labels only. A site holding a licence puts the official wording in a
file of its own, ``<licensed folder>/<name>.yaml`` (``sf36v2.yaml``, ``eq5d5l.yaml``); the folder is
``MSC_SLE_CRF_LICENSED_DIR`` or ``licensed/`` in the app's data folder. Format (both languages optional):

    instrument: sf36v2
    licence: "QualityMetric licence QM012345, valid to 2027-12-31"
    items:
      SF01: {en: "...", fr: "..."}          # the question of item SF01
    levels:
      SF01: {"1": {en: "...", fr: "..."}, "2": {...}}   # the wording of each response level of that item

The wording replaces the labels on screen (and in printouts); stored values and scoring do not change, and the form's
content hash (its identity for data) is unaffected. The file is read, never copied into the database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.formdef.definitions import CodeList, CodeListItem, FormDef, Item, Text
from msc_sle_crf.formdef.yamlsafe import read_checked
from msc_sle_crf.i18n import L
from msc_sle_crf.locations import data_dir


def licensed_dir() -> Path:
    override = os.environ.get("MSC_SLE_CRF_LICENSED_DIR")
    return Path(override) if override else data_dir() / "licensed"


def _text(value: Any, fallback: Text) -> Text:
    if isinstance(value, dict):
        return Text(en=str(value.get("en") or fallback.en), fr=str(value.get("fr") or fallback.fr))
    return fallback


def load(name: str, directory: Path | None = None) -> dict[str, Any] | None:
    path = (directory or licensed_dir()) / f"{name}.yaml"
    if not path.is_file():
        return None
    text, line, problem = read_checked(path)
    if text is None:
        raise ValidationError(Msg.YAML_REFUSED, path=f"{path}:{line}", reason=L(problem, problem))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ValidationError(Msg.YAML_REFUSED, path=where, reason=L(f"YAML syntax error: {exc}".splitlines()[0],
                                                                      f"erreur de syntaxe YAML : {exc}".splitlines()[0])
                              ) from None
    return data if isinstance(data, dict) and data.get("instrument") == name else None


def apply(form: FormDef, directory: Path | None = None) -> FormDef:
    """The form with the site's licensed wording, when the form asks for it and the site holds the file."""
    if form.licensed_text is None:
        return form
    wording = load(form.licensed_text, directory)
    if wording is None:
        return form
    items: dict[str, Any] = wording.get("items") or {}
    levels: dict[str, Any] = wording.get("levels") or {}
    codelists = dict(form.codelists)
    groups = []
    for group in form.groups:
        new_items: list[Item] = []
        for item in group.items:
            if not item.licensed:
                new_items.append(item)
                continue
            update: dict[str, Any] = {"label": _text(items.get(item.id), item.label)}
            if item.id in levels and item.codelist and item.codelist in codelists:
                name = f"{item.codelist}_{item.id.lower()}"
                base = codelists[item.codelist]
                codelists[name] = CodeList(items=tuple(
                    CodeListItem(code=c.code, label=_text(levels[item.id].get(c.code), c.label)) for c in base.items))
                update["codelist"] = name
            new_items.append(item.model_copy(update=update))
        groups.append(group.model_copy(update={"items": tuple(new_items)}))
    return form.model_copy(update={"groups": tuple(groups), "codelists": codelists})
