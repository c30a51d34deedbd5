"""The form compiler: YAML files with line numbers -> schema validation -> frozen typed definitions.

Every problem is collected (not only the first) with its file, line and, where we can guess it, a fix hint:

    forms/vitals.yaml:42: item 'VSTEMP': soft_max 38.0 is above hard_max 37.0 (hint: ...)

Structural checks come from the pydantic schema in ``model``; the rules that span several keys or files
(ranges, references to code lists, show-if items, registered functions, study events) are checked here on the
raw data, so they are reported even when another part of the same file is malformed.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from msc_sle_crf.formdef import bindings as B
from msc_sle_crf.formdef.definitions import (
    CODED_TYPES,
    DATE_TYPES,
    NUMERIC_TYPES,
    CodeList,
    FormDef,
    ItemType,
    StudyDef,
    StudyMeta,
)
from msc_sle_crf.formdef.functions import CALCULATIONS, CHECKS
from msc_sle_crf.formdef.yamlsafe import read_checked

STUDY_FILE = "study.yaml"
# One step of a value typed in an alternative unit, converted, may be at most this many steps of the item's
# precision (_FormChecker.check_alt_precision).
MAX_ALT_STEP = 10
# libyaml's parser (14 times faster than the pure-Python one on these files); its nodes carry the same start marks,
# so every error keeps its file and line. The pure-Python loader where PyYAML was built without libyaml.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class FormError:
    file: str
    line: int
    where: str
    message: str
    hint: str | None = None
    warning: bool = False

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        kind = " warning:" if self.warning else ""
        return f"{self.file}:{self.line}:{kind}{where} {self.message}{hint}"


class FormSetError(Exception):
    """The form set does not compile. ``errors`` holds every problem found."""

    def __init__(self, errors: list[FormError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class CompileResult:
    study: StudyDef | None
    errors: list[FormError] = field(default_factory=list)
    warnings: list[FormError] = field(default_factory=list)


# ----- YAML with line numbers --------------------------------------------------------------------------------
@dataclass
class _Source:
    name: str  # as shown in messages, e.g. "forms/vitals.yaml"
    data: Any
    lines: dict[Path_, int]

    def line(self, path: Path_) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


def _read_yaml(path: Path, shown: str, errors: list[FormError]) -> _Source | None:
    text, line, problem = read_checked(path)
    if text is None:
        errors.append(FormError(shown, line, "", problem, "anchors, aliases and files over 1 MB are refused"
                                if "alias" in problem or "bytes" in problem else None))
        return None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            errors.append(FormError(shown, 1, "", "the file is empty"))
            return None
        lines: dict[Path_, int] = {}
        _walk_lines(node, (), lines, shown, errors)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        errors.append(FormError(shown, line, "", f"YAML syntax error: {exc.problem or exc}",
                                "check indentation and that ':' is followed by a space"))
        return None
    finally:
        loader.dispose()
    return _Source(shown, data, lines)


def _walk_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int], shown: str,
                errors: list[FormError]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:  # PyYAML would silently keep the last one
                errors.append(FormError(shown, line, "", f"key '{key}' appears twice (first on line {seen[key]})",
                                        "remove one of them"))
            seen[key] = line
            _walk_lines(value_node, (*path, key), lines, shown, errors)
            lines[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _walk_lines(child, (*path, index), lines, shown, errors)


# ----- schema validation -------------------------------------------------------------------------------------
def _known_keys() -> set[str]:
    keys: set[str] = set()
    stack: list[type[BaseModel]] = [FormDef, StudyMeta]
    seen: set[type[BaseModel]] = set()
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        keys |= set(model.model_fields)
        for f in model.model_fields.values():
            for sub in _models_in(f.annotation):
                stack.append(sub)
    return keys


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _models_in(arg)


_KNOWN_KEYS = _known_keys()


def _where(data: Any, path: Path_) -> str:
    """A readable location: "item 'VSTEMP'", "group 'vitals'", "event 'M1'", "code list 'route'"."""
    node = data
    where = ""
    for step, nxt in itertools.pairwise(path):
        node = node.get(step) if isinstance(node, dict) else (
            node[step] if isinstance(node, list) and isinstance(step, int) and step < len(node) else None)
        if node is None:
            break
        if step in ("items", "groups", "events") and isinstance(nxt, int) and isinstance(node, list) \
                and nxt < len(node) and isinstance(node[nxt], dict):
            kind = {"items": "item", "groups": "group", "events": "event"}[step]
            where = f"{kind} '{node[nxt].get('id', f'#{nxt + 1}')}'"
        elif step == "codelists" and isinstance(nxt, str):
            where = f"code list '{nxt}'"
    return where


def _resolve(data: Any, loc: Iterable[str | int]) -> Path_:
    """Map a pydantic error location onto a path in the raw data (dropping union branch tags)."""
    node = data
    path: list[str | int] = []
    for step in loc:
        in_dict = isinstance(node, dict) and step in node
        if in_dict or (isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)):
            node = node[step]
            path.append(step)
        elif isinstance(step, str) and isinstance(node, dict) and step not in node \
                and step[:1].isupper():  # a union branch such as 'Condition'
            continue
        else:
            path.append(step)
            break
    return tuple(path)


_ITEM_ID_HINT = "item ids are CDASH-style variable names: capitals, digits or '_', at most 8 characters (e.g. VSSYSBP)"
_EVENT_ID_HINT = "event ids are capitals and digits, at most 12 characters (e.g. M1, SCR)"
_LOWER_ID_HINT = "form, group and code-list ids are lower case letters, digits or '_' (e.g. vital_signs)"
_ID_HINTS = {
    "version": "use a version number such as 1 or 1.2",
}


def _schema_errors(src: _Source, model: type[BaseModel]) -> tuple[Any, list[FormError]]:
    try:
        return model.model_validate(src.data), []
    except PydanticError as exc:
        out: list[FormError] = []
        errs = exc.errors(include_url=False)
        failed = [_resolve(src.data, e["loc"]) for e in errs]
        for err, path in zip(errs, failed, strict=True):
            if err["type"] == "too_short" and any(len(p) > len(path) and p[:len(path)] == path for p in failed):
                continue  # "no items left" only because the items below it failed: already reported
            key = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
            hint = None
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
                message = f"unknown key '{key}'"
                hint = f"did you mean '{close[0]}'?" if close else "remove it"
            elif err["type"] == "missing":
                message = f"'{key}' is required"
                hint = "labels need both 'en' and 'fr'" if key in ("en", "fr") else None
            else:
                message = f"{key}: {message}" if key else message
                if err["type"] == "string_pattern_mismatch":
                    hint = _ID_HINTS.get(key)
                    if key == "id":
                        kinds = [p for p in path if p in ("items", "groups", "events", "codelists")]
                        hint = {"items": _ITEM_ID_HINT, "events": _EVENT_ID_HINT}.get(
                            str(kinds[-1]) if kinds else "", _LOWER_ID_HINT)
                elif err["type"] in ("enum", "literal_error") and "expected" in (err.get("ctx") or {}):
                    typed = str(err.get("input"))
                    choices = re.findall(r"'([^']+)'", str(err["ctx"]["expected"]))
                    close = difflib.get_close_matches(typed, choices, n=1)
                    message = f"{key}: '{typed}' is not allowed"
                    hint = f"did you mean '{close[0]}'?" if close else f"one of {', '.join(choices)}"
            out.append(FormError(src.name, src.line(path), _where(src.data, path), message, hint))
        return None, out


# ----- rules across keys and files ----------------------------------------------------------------------------
def _dec(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


class _FormChecker:
    def __init__(self, src: _Source, study_codelists: set[str]) -> None:
        self.src = src
        self.errors: list[FormError] = []
        self.warnings: list[FormError] = []
        data = src.data if isinstance(src.data, dict) else {}
        self.data = data
        local = data.get("codelists")
        self.codelists = study_codelists | (set(local) if isinstance(local, dict) else set())
        self.local_codelists: dict[str, Any] = local if isinstance(local, dict) else {}
        self.items: dict[str, tuple[Path_, dict[str, Any], str]] = {}  # id -> (path, raw, group id)
        self.every_item: list[tuple[Path_, dict[str, Any], str]] = []  # duplicates included

    def err(self, path: Path_, message: str, hint: str | None = None) -> None:
        self.errors.append(FormError(self.src.name, self.src.line(path), _where(self.data, path), message, hint))

    def run(self) -> None:
        groups = self.data.get("groups")
        if not isinstance(groups, list):
            return
        group_ids: dict[str, int] = {}
        for gi, group in enumerate(groups):
            if not isinstance(group, dict):
                continue
            gid = str(group.get("id"))
            if gid in group_ids:
                self.err(("groups", gi, "id"), f"group id '{gid}' is used twice (first on line {group_ids[gid]})")
            group_ids.setdefault(gid, self.src.line(("groups", gi, "id")))
            lo, hi = group.get("min_rows"), group.get("max_rows")
            if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
                self.err(("groups", gi, "min_rows"), f"min_rows {lo} is above max_rows {hi}")
            if not group.get("repeating") and ("min_rows" in group or "max_rows" in group):
                self.err(("groups", gi, "min_rows" if "min_rows" in group else "max_rows"),
                         "min_rows/max_rows apply only to a repeating group", "add 'repeating: true' or remove them")
            items = group.get("items")
            if not isinstance(items, list):
                continue
            for ii, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                path: Path_ = ("groups", gi, "items", ii)
                self.every_item.append((path, item, gid))
                iid = item.get("id")
                if isinstance(iid, str):
                    if iid in self.items:
                        first = self.src.line((*self.items[iid][0], "id"))
                        self.err((*path, "id"), f"item id '{iid}' is used twice (first on line {first})",
                                 "item ids are export variable names and must be unique in a form")
                    else:
                        self.items[iid] = (path, item, gid)
                self.check_item(path, item)
        for path, item, gid in self.every_item:
            self.check_references(path, item, gid)
        self.check_calc_cycles()
        checks = self.data.get("checks")
        if isinstance(checks, list):
            for ci, check in enumerate(checks):
                if isinstance(check, dict):
                    self.check_cross(("checks", ci), check)

    def check_alt_precision(self, path: Path_, item: dict[str, Any], itype: ItemType, alt: list[Any]) -> None:
        """A value typed in an alternative unit may have that unit's ``precision`` decimals (else the item's). One
        step of it, converted, must stay within MAX_ALT_STEP canonical steps: creatinine at 1 decimal in mg/dL
        steps by 8.84 µmol/L (88 steps of 0.1), which forces the site to round what the lab printed."""
        precision = item.get("precision")
        for ai, a in enumerate(alt):
            if not isinstance(a, dict):
                continue
            own, factor = a.get("precision"), _dec(a.get("factor"))
            if own is not None and itype is not ItemType.DECIMAL:
                self.err((*path, "alt_units", ai, "precision"), "precision applies only to decimal items")
                continue
            if itype is not ItemType.DECIMAL or not isinstance(precision, int) or factor is None or factor <= 0:
                continue
            places = own if isinstance(own, int) else precision
            step, canonical = factor.scaleb(-places), Decimal(1).scaleb(-precision)
            if step > MAX_ALT_STEP * canonical:
                needed = places
                while factor.scaleb(-needed) > MAX_ALT_STEP * canonical:
                    needed += 1
                unit, name = item.get("unit"), a.get("unit")
                self.err((*path, "alt_units", ai),
                         f"a value typed in {name} with {places} decimal place(s) steps by {_fmt(step)} {unit}, "
                         f"more than {MAX_ALT_STEP} steps of the item's precision ({_fmt(canonical)} {unit}): "
                         "sites would have to round what the lab printed",
                         f"give the unit its own precision: {{unit: {name}, factor: {_fmt(factor)}, "
                         f"precision: {needed}}}")

    def check_item(self, path: Path_, item: dict[str, Any]) -> None:
        try:
            itype = ItemType(str(item.get("type")))
        except ValueError:
            return  # reported by the schema
        bounds = {k: _dec(item.get(k)) for k in ("hard_min", "soft_min", "soft_max", "hard_max")}
        if itype not in NUMERIC_TYPES:
            for key in ("hard_min", "soft_min", "soft_max", "hard_max", "precision"):
                if key in item:
                    self.err((*path, key), f"{key} applies only to integer or decimal items, not {itype.value}")
            if "unit" in item and itype not in NUMERIC_TYPES:
                self.err((*path, "unit"), f"a unit applies only to integer or decimal items, not {itype.value}")
        else:
            order = [("hard_min", "soft_min"), ("soft_min", "soft_max"), ("soft_max", "hard_max"),
                     ("hard_min", "hard_max"), ("hard_min", "soft_max"), ("soft_min", "hard_max")]
            for low, high in order:
                lv, hv = bounds[low], bounds[high]
                if lv is not None and hv is not None and lv > hv:
                    if low.startswith("soft") and high.startswith("hard"):
                        msg, at = f"{low} {_fmt(lv)} is above {high} {_fmt(hv)}", low
                    elif high.startswith("soft") and low.startswith("hard"):
                        msg, at = f"{high} {_fmt(hv)} is below {low} {_fmt(lv)}", high
                    else:
                        msg, at = f"{low} {_fmt(lv)} is above {high} {_fmt(hv)}", low
                    self.err((*path, at), msg, "soft limits must lie inside the hard limits: "
                             "hard_min <= soft_min <= soft_max <= hard_max")
                    break
            if itype is ItemType.INTEGER:
                for key, value in bounds.items():
                    if value is not None and value != value.to_integral_value():
                        self.err((*path, key), f"{key} {_fmt(value)} is not a whole number on an integer item")
                if "precision" in item:
                    self.err((*path, "precision"), "precision applies only to decimal items")
            elif "precision" not in item:
                self.err(path, "a decimal item needs 'precision' (number of decimal places)", "e.g. precision: 1")
            else:
                precision = item.get("precision")
                if isinstance(precision, int):
                    for key, value in bounds.items():
                        exponent = value.normalize().as_tuple().exponent if value is not None else 0
                        if value is not None and isinstance(exponent, int) and -exponent > precision:
                            self.err((*path, key), f"{key} {_fmt(value)} has more decimals than precision {precision}")
            if item.get("alt_units") and not item.get("unit"):
                self.err((*path, "alt_units"), "alternative units need a canonical 'unit'")
            alt = item.get("alt_units")
            if isinstance(alt, list):
                names = [a.get("unit") for a in alt if isinstance(a, dict)]
                for ai, name in enumerate(names):
                    if name == item.get("unit") or names.index(name) != ai:
                        self.err((*path, "alt_units", ai), f"unit '{name}' is listed twice")
                self.check_alt_precision(path, item, itype, alt)
        if itype is not ItemType.TEXT:
            for key in ("max_length", "pattern", "pattern_hint"):
                if key in item:
                    self.err((*path, key), f"{key} applies only to text items")
        else:
            pattern = item.get("pattern")
            if isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    self.err((*path, "pattern"), f"pattern is not a valid regular expression: {exc}")
                if "pattern_hint" not in item:
                    self.err((*path, "pattern"), "a pattern needs a 'pattern_hint' (en/fr) that the user will read",
                             "e.g. pattern_hint: {en: '2 or 3 letters', fr: '2 ou 3 lettres'}")
        if itype in (ItemType.CHOICE, ItemType.MULTICHOICE):
            name = item.get("codelist")
            if name is None:
                self.err(path, f"a {itype.value} item needs a 'codelist'")
            elif isinstance(name, str) and name not in self.codelists:
                close = difflib.get_close_matches(name, self.codelists, n=1)
                self.err((*path, "codelist"), f"code list '{name}' is not defined",
                         f"did you mean '{close[0]}'?" if close else "define it under 'codelists:' in this file "
                         "or in study.yaml")
        elif "codelist" in item:
            self.err((*path, "codelist"), f"a code list applies only to choice items, not {itype.value}")
        if "lookup" in item and itype is not ItemType.TEXT:
            self.err((*path, "lookup"), f"a terminology lookup applies only to text items, not {itype.value}")
        rules = item.get("date_rules")
        if rules and itype not in DATE_TYPES:
            self.err((*path, "date_rules"), f"date rules apply only to date items, not {itype.value}")
        calc = item.get("calc")
        if isinstance(calc, dict):
            name = calc.get("function")
            inputs = calc.get("inputs")
            if isinstance(name, str):
                fn = CALCULATIONS.get(name)
                if fn is None:
                    close = difflib.get_close_matches(name, CALCULATIONS, n=1)
                    self.err((*path, "calc", "function"), f"calculation '{name}' is not registered",
                             f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(CALCULATIONS))}")
                elif isinstance(inputs, list) and len(inputs) != fn.arity:
                    self.err((*path, "calc", "inputs"), f"calculation '{name}' takes {fn.arity} inputs, "
                             f"{len(inputs)} given")
            if item.get("required"):
                self.err((*path, "required"), "a calculated item cannot be required (nobody types it)")
            if item.get("missing"):
                self.err((*path, "missing"), "a calculated item cannot be marked not done")
            if itype not in NUMERIC_TYPES:
                self.err((*path, "type"), "a calculated item must be integer or decimal")

    def _ref(self, path: Path_, ref: Any, from_group: str | None, what: str) -> dict[str, Any] | None:
        if not isinstance(ref, str):
            return None
        found = self.items.get(ref)
        if found is None:
            close = difflib.get_close_matches(ref, self.items, n=1)
            self.err(path, f"{what} refers to unknown item '{ref}'", f"did you mean '{close[0]}'?" if close else None)
            return None
        _, raw, gid = found
        group = self._group(gid)
        if from_group is not None and gid != from_group and group is not None and group.get("repeating"):
            self.err(path, f"{what} refers to '{ref}' in another repeating group '{gid}' (which row?)",
                     "refer to items of the same row or of a non-repeating group")
        return raw

    def _group(self, gid: str) -> dict[str, Any] | None:
        for g in self.data.get("groups") or []:
            if isinstance(g, dict) and g.get("id") == gid:
                return g
        return None

    def check_references(self, path: Path_, item: dict[str, Any], gid: str) -> None:
        calc = item.get("calc")
        if isinstance(calc, dict) and isinstance(calc.get("inputs"), list):
            for k, ref in enumerate(calc["inputs"]):
                self._ref((*path, "calc", "inputs", k), ref, gid, "calc input")
        grades_of = item.get("grades_of")
        if grades_of is not None:
            target = self._ref((*path, "grades_of"), grades_of, gid, "grades_of")
            if target is not None and target.get("lookup") != "ctcae_v5":
                self.err((*path, "grades_of"), f"grades_of must name a CTCAE term item (lookup: ctcae_v5), "
                         f"'{grades_of}' is not one")
        show_if = item.get("show_if")
        if show_if is not None:
            self.check_show_if((*path, "show_if"), show_if, gid, item.get("id"))

    def check_show_if(self, path: Path_, node: Any, gid: str, own_id: Any) -> None:
        if not isinstance(node, dict):
            return
        if "item" in node:
            ref = node.get("item")
            if ref == own_id:
                self.err((*path, "item"), "show_if refers to the item itself")
                return
            target = self._ref((*path, "item"), ref, gid, "show_if")
            if target is None:
                return
            op, value = node.get("op"), node.get("value")
            if op in ("filled", "empty") and "value" in node:
                self.err((*path, "value"), f"operator '{op}' takes no value")
            elif op in ("in", "not_in") and not isinstance(value, list):
                self.err((*path, "value"), f"operator '{op}' needs a list of values")
            elif op in ("gt", "ge", "lt", "le") and _dec(value) is None:
                self.err((*path, "value"), f"operator '{op}' needs a number")
            if op in ("eq", "ne", "in", "not_in") and target.get("type") in {t.value for t in CODED_TYPES}:
                codes = self._codes(target)
                values = value if isinstance(value, list) else [value]
                for v in values:
                    if codes is not None and str(v) not in codes:
                        self.err((*path, "value"), f"'{v}' is not a code of item '{ref}'",
                                 f"codes: {', '.join(codes)}")
            return
        for key in ("all", "any"):
            sub = node.get(key)
            if isinstance(sub, list):
                for k, child in enumerate(sub):
                    self.check_show_if((*path, key, k), child, gid, own_id)

    def _codes(self, item: dict[str, Any]) -> list[str] | None:
        if item.get("type") == ItemType.YESNO.value:
            return ["Y", "N", "U"]
        cl = self.local_codelists.get(str(item.get("codelist")))
        if isinstance(cl, dict) and isinstance(cl.get("items"), list):
            return [str(c.get("code")) for c in cl["items"] if isinstance(c, dict)]
        return None

    def check_cross(self, path: Path_, check: dict[str, Any]) -> None:
        name = check.get("function")
        items = check.get("items")
        if isinstance(name, str):
            fn = CHECKS.get(name)
            if fn is None:
                close = difflib.get_close_matches(name, CHECKS, n=1)
                self.err((*path, "function"), f"check '{name}' is not registered",
                         f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(CHECKS))}")
            elif isinstance(items, list) and len(items) != fn.arity:
                self.err((*path, "items"), f"check '{name}' takes {fn.arity} items, {len(items)} given")
        if isinstance(items, list):
            groups = set()
            for k, ref in enumerate(items):
                if self._ref((*path, "items", k), ref, None, "check") is not None and isinstance(ref, str):
                    groups.add(self.items[ref][2])
            repeating = [g for g in groups if (self._group(g) or {}).get("repeating")]
            if len(repeating) > 1:
                self.err((*path, "items"), "a check may read one repeating group only")

    def check_calc_cycles(self) -> None:
        graph = {iid: [r for r in raw["calc"].get("inputs") or [] if isinstance(r, str)]
                 for iid, (_, raw, _) in self.items.items() if isinstance(raw.get("calc"), dict)}
        state: dict[str, int] = {}

        def visit(node: str, trail: list[str]) -> None:
            if state.get(node) == 2 or node not in graph:
                return
            if state.get(node) == 1:
                cycle = [*trail[trail.index(node):], node]
                self.err((*self.items[node][0], "calc"), "calculations form a cycle: " + " -> ".join(cycle))
                return
            state[node] = 1
            for nxt in graph[node]:
                visit(nxt, [*trail, node])
            state[node] = 2

        for node in graph:
            visit(node, [])


# ----- the whole set -------------------------------------------------------------------------------------------
def _shown(path: Path, root: Path) -> str:
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def check_dir(directory: Path) -> CompileResult:
    """Compile every form of ``directory`` (``study.yaml`` plus one file per form); never raises."""
    directory = Path(directory)
    errors: list[FormError] = []
    warnings: list[FormError] = []
    study_path = directory / STUDY_FILE
    if not directory.is_dir():
        return CompileResult(None, [FormError(str(directory), 0, "", "no such folder")])
    if not study_path.is_file():
        errors.append(FormError(_shown(study_path, directory), 0, "", "study.yaml is missing",
                                "it lists the study, its events and the forms of each event"))
    study_src = _read_yaml(study_path, _shown(study_path, directory), errors) if study_path.is_file() else None
    meta: StudyMeta | None = None
    study_codelists: set[str] = set()
    if study_src is not None:
        meta, errs = _schema_errors(study_src, StudyMeta)
        errors += errs
        raw_cl = study_src.data.get("codelists") if isinstance(study_src.data, dict) else None
        study_codelists = set(raw_cl) if isinstance(raw_cl, dict) else set()

    forms: dict[str, FormDef] = {}
    form_files: dict[str, str] = {}
    form_sources: dict[str, _Source] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == STUDY_FILE:
            continue
        shown = _shown(path, directory)
        src = _read_yaml(path, shown, errors)
        if src is None:
            continue
        if not isinstance(src.data, dict):
            errors.append(FormError(shown, 1, "", "a form file must be a mapping (id:, version:, label:, groups:)"))
            continue
        checker = _FormChecker(src, study_codelists)
        checker.run()
        errors += checker.errors
        form, errs = _schema_errors(src, FormDef)
        errors += errs
        form_id = src.data.get("id")
        if isinstance(form_id, str):
            if form_id in form_files:
                errors.append(FormError(shown, src.line(("id",)), "", f"form id '{form_id}' is also used by "
                                        f"{form_files[form_id]}", "each form needs its own id"))
            form_files.setdefault(form_id, shown)
            form_sources.setdefault(form_id, src)
            if path.stem != form_id:
                warnings.append(FormError(shown, src.line(("id",)), "", f"form id '{form_id}' differs from the "
                                          f"file name", f"rename the file to {form_id}.yaml", warning=True))
        if form is not None and not errs and not checker.errors:
            forms[form.id] = form

    if study_src is not None and isinstance(study_src.data, dict):
        _check_study(study_src, form_files, form_sources, errors, warnings)

    errors.sort(key=lambda e: (e.file, e.line, e.message))
    if errors or meta is None:
        return CompileResult(None, errors, warnings)
    return CompileResult(StudyDef(meta=meta, forms=forms), errors, warnings)


def _check_study(src: _Source, form_files: dict[str, str], form_sources: dict[str, _Source],
                 errors: list[FormError], warnings: list[FormError]) -> None:
    events = src.data.get("events")
    used: set[str] = set()
    seen: dict[str, int] = {}
    if isinstance(events, list):
        for ei, event in enumerate(events):
            if not isinstance(event, dict):
                continue
            eid = event.get("id")
            if isinstance(eid, str):
                if eid in seen:
                    errors.append(FormError(src.name, src.line(("events", ei, "id")), f"event '{eid}'",
                                            f"event id used twice (first on line {seen[eid]})"))
                seen.setdefault(eid, src.line(("events", ei, "id")))
            forms = event.get("forms")
            if isinstance(forms, list):
                for fi, fid in enumerate(forms):
                    used.add(str(fid))
                    if fid not in form_files:
                        close = difflib.get_close_matches(str(fid), form_files, n=1)
                        errors.append(FormError(src.name, src.line(("events", ei, "forms", fi)), f"event '{eid}'",
                                                f"form '{fid}' has no file in this folder",
                                                f"did you mean '{close[0]}'?" if close else
                                                f"create {fid}.yaml"))
    for fid, shown in sorted(form_files.items()):
        if fid not in used:
            warnings.append(FormError(shown, 1, "", f"form '{fid}' belongs to no event in study.yaml",
                                      warning=True))
    event_forms = {str(e.get("id")): [str(f) for f in e.get("forms") or []] for e in events or []
                   if isinstance(e, dict) and isinstance(e.get("forms"), list)} if isinstance(events, list) else {}
    if isinstance(src.data.get("bindings"), dict):
        _check_bindings(src, event_forms, form_sources, errors)
        _check_scoring_refs(src, event_forms, form_sources, errors)
    anchor = src.data.get("anchor")
    if isinstance(anchor, dict):
        if anchor.get("event") not in seen:
            errors.append(FormError(src.name, src.line(("anchor", "event")), "anchor",
                                    f"event '{anchor.get('event')}' is not defined"))
        fsrc = form_sources.get(str(anchor.get("form")))
        if fsrc is None:
            errors.append(FormError(src.name, src.line(("anchor", "form")), "anchor",
                                    f"form '{anchor.get('form')}' has no file in this folder"))
        else:
            items = {i.get("id"): i for g in fsrc.data.get("groups") or [] if isinstance(g, dict)
                     for i in g.get("items") or [] if isinstance(i, dict)}
            target = items.get(anchor.get("item"))
            if target is None or target.get("type") not in (ItemType.DATE.value, ItemType.DATETIME.value):
                errors.append(FormError(src.name, src.line(("anchor", "item")), "anchor",
                                        f"item '{anchor.get('item')}' is not a date item of form "
                                        f"'{anchor.get('form')}'"))


def _form_items(src: _Source) -> dict[str, tuple[str, dict[str, Any]]]:
    """item id -> (group id, raw item) of a form file."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for group in src.data.get("groups") or []:
        if isinstance(group, dict):
            for item in group.get("items") or []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    out.setdefault(item["id"], (str(group.get("id")), item))
    return out


def _check_bindings(src: _Source, event_forms: dict[str, list[str]], form_sources: dict[str, _Source],
                    errors: list[FormError]) -> None:
    """Each binding names a visit that exists and holds the form, a form with a file, a group of that form, and
    items of that form (and group) with a type the program accepts."""
    raw = src.data["bindings"]
    base: Path_ = ("bindings",)

    def err(path: Path_, message: str, hint: str | None = None) -> None:
        errors.append(FormError(src.name, src.line((*base, *path)), "bindings", message, hint))

    def check_event(path: Path_, event: Any) -> bool:
        if event not in event_forms:
            close = difflib.get_close_matches(str(event), event_forms, n=1)
            err(path, f"visit '{event}' is not defined", f"did you mean '{close[0]}'?" if close else None)
            return False
        return True

    for key in ("baseline_visit",):
        if key in raw:
            check_event((key,), raw[key])
    for key in ("follow_up_visits", "unscheduled_events"):
        for index, event in enumerate(raw.get(key) or []):
            check_event((key, index), event)

    # Forms: the visit holds the form, the group exists. A form binding without a visit of its own takes the
    # visit of the binding around it (infusion_day.event).
    forms_at: dict[Path_, tuple[str, _Source | None, str | None]] = {}
    for path, binding in B.form_bindings(B.StudyBindings, raw):
        parent = raw
        event = binding.get("event")
        for step in path[:-1]:
            parent = parent.get(step) if isinstance(parent, dict) else None
            if isinstance(parent, dict) and parent.get("event") is not None and event is None:
                event = parent.get("event")
        form_id = binding.get("form")
        fsrc = form_sources.get(str(form_id))
        if fsrc is None:
            close = difflib.get_close_matches(str(form_id), form_sources, n=1)
            err((*path, "form"), f"form '{form_id}' has no file in this folder",
                f"did you mean '{close[0]}'?" if close else None)
        elif event is not None and check_event((*path, "event") if "event" in binding else path, event) \
                and str(form_id) not in event_forms[str(event)]:
            err((*path, "form"), f"visit '{event}' does not hold form '{form_id}'",
                f"add it to the forms of visit '{event}' in study.yaml")
        group = binding.get("group")
        if fsrc is not None and group is not None:
            groups = [str(g.get("id")) for g in fsrc.data.get("groups") or [] if isinstance(g, dict)]
            if group not in groups:
                close = difflib.get_close_matches(str(group), groups, n=1)
                err((*path, "group"), f"form '{form_id}' has no group '{group}'",
                    f"did you mean '{close[0]}'?" if close else f"groups: {', '.join(groups)}")
                group = None
        forms_at[path] = (str(form_id), fsrc, None if group is None else str(group))

    # Items: exist in the form (and its group), with an accepted type.
    every_item = {iid: (fid, gid, item) for fid, fsrc in form_sources.items()
                  for iid, (gid, item) in _form_items(fsrc).items()}
    for bound in B.walk(B.StudyBindings, raw):
        if not isinstance(bound.item, str):
            continue  # reported by the schema
        if bound.form_path is None:  # not tied to a form (the items that date a visit): any form
            found = every_item.get(bound.item)
            where = "any form"
            item = found[2] if found else None
        else:
            form_id, fsrc, group = forms_at.get(bound.form_path, ("?", None, None))
            if fsrc is None:
                continue
            items = _form_items(fsrc)
            where = f"form '{form_id}'"
            found_in = items.get(bound.item)
            item = found_in[1] if found_in else None
            if found_in is not None and group is not None and found_in[0] != group:
                err(bound.path, f"item '{bound.item}' is in group '{found_in[0]}' of {where}, not in '{group}'")
                continue
            if item is None:
                close = difflib.get_close_matches(bound.item, items, n=1)
                err(bound.path, f"item '{bound.item}' is not in {where}",
                    f"did you mean '{close[0]}'? (rename the binding with the item)" if close else
                    "a renamed item must be renamed here too")
                continue
        if item is None:
            err(bound.path, f"item '{bound.item}' is not in {where}", "a renamed item must be renamed here too")
            continue
        if item.get("type") not in bound.expect.types:
            err(bound.path, f"item '{bound.item}' is {item.get('type')}; the program reads it as "
                f"{' or '.join(bound.expect.types)}")
    _check_score_keys(raw, src, err)


def _check_score_keys(raw: dict[str, Any], src: _Source, err: Any) -> None:
    """The score maps name exactly the descriptors, systems and dimensions the scores are defined with."""
    from msc_sle_crf.scoring.bilag import PROFILES
    from msc_sle_crf.scoring.eq5d import DIMENSIONS
    from msc_sle_crf.scoring.sledai import DESCRIPTORS

    scoring = src.data.get("scoring")
    profile = PROFILES.get(str(scoring.get("bilag_profile", "classic_9_3_1") if isinstance(scoring, dict)
                               else "classic_9_3_1"))
    raw_scores = raw.get("scores")
    scores: dict[str, Any] = raw_scores if isinstance(raw_scores, dict) else {}
    wanted = {
        ("selena_sledai", "descriptors"): [d.key for d in DESCRIPTORS],
        ("bilag", "systems"): [s.key for s in profile.systems] if profile else None,
        ("eq5d", "dimensions"): [k for k, _ in DIMENSIONS],
    }
    for (score, field_name), keys in wanted.items():
        binding = scores.get(score)
        given = binding.get(field_name) if isinstance(binding, dict) else None
        if keys is None or not isinstance(given, dict):
            continue
        missing = [k for k in keys if k not in given]
        extra = [k for k in given if k not in keys]
        if missing:
            err(("scores", score, field_name), f"{score}: no item bound for {', '.join(missing)}")
        for k in extra:
            close = difflib.get_close_matches(str(k), keys, n=1)
            err(("scores", score, field_name, k), f"{score}: '{k}' is not one of its {field_name}",
                f"did you mean '{close[0]}'?" if close else f"known: {', '.join(keys)}")


def _check_scoring_refs(src: _Source, event_forms: dict[str, list[str]], form_sources: dict[str, _Source],
                        errors: list[FormError]) -> None:
    """The visits and codes the scoring rules name exist: each toxicity window's review visit holds the D1-D10
    tolerance form or the toxicity review; the response visits are visits; the refractoriness criteria are the
    codes of the screening form's drug list, every one of them."""
    scoring = src.data.get("scoring")
    bindings = src.data["bindings"]
    if not isinstance(scoring, dict):
        return

    def err(path: Path_, message: str, hint: str | None = None) -> None:
        errors.append(FormError(src.name, src.line(("scoring", *path)), "scoring", message, hint))

    def binding_form(*path: str) -> str | None:
        node: Any = bindings
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        return str(node) if isinstance(node, str) else None

    review_forms = {f for f in (binding_form("tolerance", "form"), binding_form("toxicity_review", "form")) if f}
    toxicity = scoring.get("toxicity")
    windows = toxicity.get("windows") if isinstance(toxicity, dict) else None
    for index, window in enumerate(windows if isinstance(windows, list) else []):
        event = window.get("review_event") if isinstance(window, dict) else None
        if event is None:
            continue
        where: Path_ = ("toxicity", "windows", index, "review_event")
        if event not in event_forms:
            close = difflib.get_close_matches(str(event), event_forms, n=1)
            err(where, f"visit '{event}' is not defined", f"did you mean '{close[0]}'?" if close else None)
        elif not review_forms & set(event_forms[str(event)]):
            err(where, f"visit '{event}' holds no review form ({' or '.join(sorted(review_forms))})",
                "a window is closed by the tolerance form or the toxicity review of its visit")
    response = scoring.get("response")
    visits = response.get("visits") if isinstance(response, dict) else None
    for index, event in enumerate(visits if isinstance(visits, list) else []):
        if event not in event_forms:
            err(("response", "visits", index), f"visit '{event}' is not defined")
    def section(parent: dict[str, Any], key: str) -> dict[str, Any]:
        found = parent.get(key)
        return found if isinstance(found, dict) else {}

    scores = section(bindings, "scores")
    screening = section(scores, "screening")
    eligibility = section(scoring, "eligibility")
    steroids = section(scoring, "steroids")
    # (rules path, the rules' table, the binding naming the form and item whose code list it must cover, what)
    for path, table, binding, field_name, what in (
            (("eligibility", "refractory"), eligibility.get("refractory"), screening.get("refractory"), "drug",
             "its dose and duration criterion"),
            (("steroids", "equivalent_doses"), steroids.get("equivalent_doses"), scores.get("corticosteroids"),
             "drug", "its prednisone-equivalent dose")):
        if isinstance(table, dict) and isinstance(binding, dict):
            _check_codes_covered(src, form_sources, err, path, table, binding, field_name, what)


def _check_codes_covered(src: _Source, form_sources: dict[str, _Source], err: Any, path: Path_,  # noqa: PLR0917
                         table: dict[Any, Any], binding: dict[str, Any], field_name: str, what: str) -> None:
    """A rules table keyed by the codes of a form item's code list names exactly those codes."""
    fsrc = form_sources.get(str(binding.get("form")))
    if fsrc is None:
        return
    item = _form_items(fsrc).get(str(binding.get(field_name)), (None, {}))[1]
    local = fsrc.data.get("codelists")
    shared = src.data.get("codelists")
    name = item.get("codelist")
    codelist = (local or {}).get(name) if isinstance(local, dict) and name in local else \
        (shared or {}).get(name) if isinstance(shared, dict) else None
    codes = [str(c.get("code")) for c in (codelist or {}).get("items") or [] if isinstance(c, dict)]
    if not codes:
        return
    for key in table:
        if str(key) not in codes:
            close = difflib.get_close_matches(str(key), codes, n=1)
            err((*path, key), f"'{key}' is not a code of the drug list '{name}'",
                f"did you mean '{close[0]}'?" if close else f"codes: {', '.join(codes)}")
    missing = [c for c in codes if c not in {str(k) for k in table}]
    if missing:
        err(path, f"no entry for {', '.join(missing)} of the drug list '{name}'",
            f"every drug a site can pick needs {what}")


def compile_study(directory: Path) -> StudyDef:
    """Compile or raise ``FormSetError`` listing every problem."""
    result = check_dir(directory)
    if result.study is None:
        raise FormSetError(result.errors)
    return result.study


def study_codelists(study: StudyDef) -> dict[str, CodeList]:
    return dict(study.meta.codelists)
