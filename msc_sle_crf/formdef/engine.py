"""Live validation of one form instance, independent of any screen or database.

``FormState`` holds the values of one form (one visit of one subject), checks each change as it is typed and
re-checks only what depends on it (show-if conditions, calculated items, cross-item checks): the dependency
index is built once per definition. The same engine runs in the UI (field states as the user types) and in
the service layer (what is refused, what needs a confirmation, what blocks completion), so both agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import (
    NUMERIC_TYPES,
    CheckRef,
    CodeList,
    Condition,
    DateRule,
    FormDef,
    Item,
    ItemGroup,
    MissingCode,
    ShowIf,
)
from msc_sle_crf.formdef.functions import CALCULATIONS, CHECKS
from msc_sle_crf.i18n import L

CellKey = tuple[str, int, str]  # (group id, row number - 0 outside repeating groups, item id)


class Severity(StrEnum):
    HARD = "hard"  # impossible or inconsistent: refused (single value) or blocks completion (cross-item)
    SOFT = "soft"  # unusual: needs an explicit confirmation, which is recorded
    MISSING = "missing"  # required and empty


@dataclass(frozen=True)
class Issue:
    key: CellKey
    severity: Severity
    rule: str
    message: L
    confirmed: bool = False

    def text(self) -> str:
        return self.message.get()


@dataclass(frozen=True)
class FormContext:
    """What the checks need to know about the world: today, the subject's birth year, the visit window."""

    now: dt.datetime
    birth_year: int | None = None
    window: tuple[dt.date, dt.date] | None = None
    day0: dt.date | None = None  # the infusion date, once known

    @property
    def today(self) -> dt.date:
        return self.now.date()


@dataclass
class Cell:
    text: str | None = None  # typed but not (yet) a value: unparsable, or waiting for a confirmation
    value: Any = None
    unit: str | None = None  # the unit it was entered in (None = canonical)
    missing: MissingCode | None = None
    missing_reason: str | None = None
    confirmed: frozenset[str] = frozenset()  # soft rules the user confirmed for this value
    issues: tuple[Issue, ...] = ()

    @property
    def empty(self) -> bool:
        return self.value is None and self.missing is None


def _fmt(value: Decimal | int) -> L:
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return L(text, text.replace(".", ","))


COLON = L(": ", " : ")  # French typography puts a space before the colon


def _join(*parts: L | str) -> L:
    return L("".join(p if isinstance(p, str) else p.en for p in parts),
             "".join(p if isinstance(p, str) else p.fr for p in parts))


class FormState:
    def __init__(self, form: FormDef, context: FormContext, codelists: dict[str, CodeList] | None = None) -> None:
        self.form = form
        self.context = context
        self.study_codelists = codelists or {}
        self.cells: dict[CellKey, Cell] = {}
        self._format_rules: dict[CellKey, tuple[str, str]] = {}  # the rule of a cell's format issue (set_text)
        self.rows: dict[str, list[int]] = {g.id: ([] if g.repeating else [0]) for g in form.groups}
        self._groups: dict[str, ItemGroup] = {g.id: g for g in form.groups}
        self._items: dict[str, Item] = {i.id: i for g in form.groups for i in g.items}
        self._group_of: dict[str, str] = {i.id: g.id for g in form.groups for i in g.items}
        self._codelists: dict[str, CodeList | None] = {
            i.id: form.codelist_for(i, self.study_codelists) for i in self._items.values()}
        # Dependency index: who must be looked at again when an item changes.
        self._show_deps: dict[str, set[str]] = {}
        self._group_show_deps: dict[str, set[str]] = {}
        self._calc_deps: dict[str, set[str]] = {}
        self._check_deps: dict[str, list[CheckRef]] = {}
        for item in self._items.values():
            if item.show_if:
                for ref in item.show_if.items():
                    self._show_deps.setdefault(ref, set()).add(item.id)
            if item.calc:
                for ref in item.calc.inputs:
                    self._calc_deps.setdefault(ref, set()).add(item.id)
        for g in form.groups:
            if g.show_if:
                for ref in g.show_if.items():
                    self._group_show_deps.setdefault(ref, set()).add(g.id)
        for check in form.checks:
            for ref in check.items:
                self._check_deps.setdefault(ref, []).append(check)
        # The items whose check reads the time ("not in the future"), by group: re-checked when only the time moves.
        self._time_items: dict[str, list[str]] = {}
        for g in form.groups:
            timed = [i.id for i in g.items if DateRule.NOT_FUTURE in i.date_rules]
            if timed:
                self._time_items[g.id] = timed
        for g in form.groups:
            for row in self.rows[g.id]:
                self._init_row(g, row)

    # ----- structure ---------------------------------------------------------------------------------------
    def item(self, item_id: str) -> Item:
        return self._items[item_id]

    def codelist(self, item_id: str) -> CodeList | None:
        return self._codelists[item_id]

    def group(self, group_id: str) -> ItemGroup:
        return self._groups[group_id]

    def keys(self) -> Iterator[CellKey]:
        for g in self.form.groups:
            for row in self.rows[g.id]:
                for item in g.items:
                    yield (g.id, row, item.id)

    def cell(self, key: CellKey) -> Cell:
        return self.cells[key]

    def _init_row(self, group: ItemGroup, row: int) -> None:
        for item in group.items:
            self.cells.setdefault((group.id, row, item.id), Cell())

    def add_row(self, group_id: str, row: int | None = None) -> int:
        group = self._groups[group_id]
        if not group.repeating:
            raise ValueError(f"group {group_id} does not repeat")
        rows = self.rows[group_id]
        new = row if row is not None else (max(rows) + 1 if rows else 1)
        if new not in rows:
            rows.append(new)
            rows.sort()
        self._init_row(group, new)
        self._refresh(self._row_keys(group_id, new))
        return new

    def remove_row(self, group_id: str, row: int) -> None:
        self.rows[group_id].remove(row)
        for item in self._groups[group_id].items:
            self.cells.pop((group_id, row, item.id), None)

    def _row_keys(self, group_id: str, row: int) -> list[CellKey]:
        return [(group_id, row, i.id) for i in self._groups[group_id].items]

    def resolve(self, from_key: CellKey, item_id: str) -> CellKey:
        """The cell an item reference means, seen from a cell: same row, or the single row of a plain group."""
        gid = self._group_of[item_id]
        row = from_key[1] if gid == from_key[0] else 0
        return (gid, row, item_id)

    # ----- loading stored values ---------------------------------------------------------------------------
    def load(self, key: CellKey, value: Any, *, unit: str | None = None, missing: MissingCode | None = None,
             missing_reason: str | None = None, confirmed: Iterable[str] = ()) -> None:
        """Put a stored value in place without re-checking (call ``revalidate_all`` after loading)."""
        gid, row, _ = key
        if self._groups[gid].repeating and row not in self.rows[gid]:
            self.rows[gid].append(row)
            self.rows[gid].sort()
            self._init_row(self._groups[gid], row)
        self.cells[key] = Cell(None, value, unit, missing, missing_reason, frozenset(confirmed))

    def load_row(self, group_id: str, row: int) -> None:
        if row not in self.rows[group_id]:
            self.rows[group_id].append(row)
            self.rows[group_id].sort()
        self._init_row(self._groups[group_id], row)

    def set_typed(self, key: CellKey, text: str) -> None:
        """Restore text that was typed but not accepted (from the draft buffer)."""
        self.cells[key].text = text

    def set_context(self, context: FormContext) -> None:
        """The world moved on. When only the time did, only the checks that read it (date rules) run again."""
        old = self.context
        if replace(old, now=context.now) != context:
            self.context = context
            self.revalidate_all()
        else:
            self.set_now(context.now)
            self.context = context

    def set_now(self, now: dt.datetime) -> None:
        """Only the time moved (a form kept between saves): the checks that read it run again."""
        old = self.context
        if old.now == now:
            return
        # FormContext made directly: dataclasses.replace reads the fields each time (issue 13: at every save)
        self.context = FormContext(now, old.birth_year, old.window, old.day0)
        # Only "not in the future" reads the time: a date against today, a date and time against now. Within the
        # same day only the cells holding a date and time can change.
        same_day = old.now.date() == now.date()
        self._refresh([k for gid, items in self._time_items.items() for row in self.rows[gid]
                       for k in ((gid, row, i) for i in items)
                       if not same_day or isinstance(self.cells[k].value, dt.datetime)])

    def revalidate_all(self) -> None:
        for key in list(self.keys()):
            item = self._items[key[2]]
            if item.calc:
                self._recompute(key)
        self._refresh(list(self.keys()))

    # ----- editing -----------------------------------------------------------------------------------------
    def set_text(self, key: CellKey, text: str, unit: str | None = None) -> set[CellKey]:
        """The user typed ``text`` (in ``unit``). Returns every cell whose state may have changed."""
        item = self._items[key[2]]
        cell = self.cells[key]
        if item.calc:
            return set()
        old_value = cell.value
        try:
            value = V.parse(item, text, self._codelists[item.id], unit)
        except V.ParseError as exc:
            cell.text = text
            cell.unit = unit
            issues, rule = cell.issues, exc.rule
            said = (rule.en, rule.fr)
            if not (len(issues) == 1 and issues[0].rule == "format" and self._format_rules.get(key) == said):
                # else the same tuple stays (nothing made): a screen sees at a glance that nothing changed
                self._format_rules[key] = said
                cell.issues = (Issue(key, Severity.HARD, "format", _join(item.label.as_l(), COLON, rule)),)
            return {key}
        cell.text = None
        if value != old_value or unit != cell.unit:
            cell.confirmed = frozenset()
        cell.value = value
        cell.unit = unit if value is not None else None
        if value is not None:
            cell.missing = None
            cell.missing_reason = None
        return self._refresh(self._affected(key))

    def set_value(self, key: CellKey, value: Any, unit: str | None = None) -> set[CellKey]:
        cell = self.cells[key]
        if value != cell.value or unit != cell.unit:
            cell.confirmed = frozenset()
        cell.text, cell.value, cell.unit = None, value, unit
        if value is not None:
            cell.missing = cell.missing_reason = None
        return self._refresh(self._affected(key))

    def confirm(self, key: CellKey) -> set[CellKey]:
        """Confirm every soft warning currently shown on the cell (a cross-item one for all its fields)."""
        cell = self.cells[key]
        cell.confirmed = cell.confirmed | {i.rule for i in cell.issues if i.severity is Severity.SOFT}
        return self._refresh(self._affected(key))

    def set_missing(self, key: CellKey, code: MissingCode | None, reason: str | None) -> set[CellKey]:
        cell = self.cells[key]
        cell.text = None
        cell.value = None
        cell.unit = None
        cell.confirmed = frozenset()
        cell.missing = code
        cell.missing_reason = (reason or "").strip() or None if code else None
        return self._refresh(self._affected(key))

    def _affected(self, key: CellKey) -> list[CellKey]:
        """The cell itself, then what depends on it: calculations (transitively), show-if and checks."""
        out: list[CellKey] = [key]
        frontier = [key]
        while frontier:
            current = frontier.pop()
            item_id = current[2]
            for dep in self._calc_deps.get(item_id, ()):
                for target in self._targets(current, dep):
                    if target not in out:
                        self._recompute(target)
                        out.append(target)
                        frontier.append(target)
            for dep in self._show_deps.get(item_id, ()):
                out += [t for t in self._targets(current, dep) if t not in out]
            for gid in self._group_show_deps.get(item_id, ()):
                for row in self.rows[gid]:
                    out += [k for k in self._row_keys(gid, row) if k not in out]
            for check in self._check_deps.get(item_id, ()):
                for ref in check.items:
                    out += [t for t in self._targets(current, ref) if t not in out]
        return out

    def _targets(self, source: CellKey, item_id: str) -> list[CellKey]:
        """Cells of ``item_id`` that read ``source``: the same row, or every row when the source is plain."""
        gid = self._group_of[item_id]
        if gid == source[0]:
            return [(gid, source[1], item_id)]
        if self._groups[source[0]].repeating:
            return [(gid, 0, item_id)] if not self._groups[gid].repeating else []
        return [(gid, row, item_id) for row in self.rows[gid]]

    def _recompute(self, key: CellKey) -> None:
        item = self._items[key[2]]
        assert item.calc is not None
        fn = CALCULATIONS[item.calc.function]
        inputs = [self._canonical(self.resolve(key, ref)) for ref in item.calc.inputs]
        cell = self.cells[key]
        try:
            cell.value = fn.func(*inputs)
        except (ArithmeticError, ValueError, TypeError):
            cell.value = None

    # ----- reading -----------------------------------------------------------------------------------------
    def _canonical(self, key: CellKey) -> Any:
        """The value in the item's canonical unit; None when empty, not done, hidden or not parsable."""
        cell = self.cells.get(key)
        if cell is None or cell.value is None or cell.text is not None or not self.visible(key):
            return None
        item = self._items[key[2]]
        if item.type in NUMERIC_TYPES and cell.unit and cell.unit != item.unit:
            for alt in item.alt_units:
                if alt.unit == cell.unit:
                    return Decimal(cell.value) * alt.factor
            return None
        return cell.value

    def canonical(self, key: CellKey) -> Any:
        return self._canonical(key)

    def value(self, key: CellKey) -> Any:
        return self.cells[key].value

    def visible(self, key: CellKey) -> bool:
        gid, _, item_id = key
        group = self._groups[gid]
        if group.show_if and not self._holds(group.show_if, (gid, 0 if not group.repeating else key[1], item_id)):
            return False
        item = self._items[item_id]
        return not item.show_if or self._holds(item.show_if, key)

    def _holds(self, cond: ShowIf | Condition, at: CellKey) -> bool:
        if isinstance(cond, ShowIf):
            parts = [self._holds(c, at) for c in cond.all] + ([any(self._holds(c, at) for c in cond.any)]
                                                               if cond.any else [])
            return all(parts)
        ref = self.resolve(at, cond.item)
        value = self._canonical(ref) if ref != at else None
        if cond.op == "filled":
            return value is not None
        if cond.op == "empty":
            return value is None
        if value is None:
            return cond.op in ("ne", "not_in")
        values = value if isinstance(value, tuple) else (value,)
        if cond.op in ("eq", "ne", "in", "not_in"):
            wanted = cond.value if isinstance(cond.value, list) else [cond.value]
            hit = any(_same(v, w) for v in values for w in wanted)
            return hit if cond.op in ("eq", "in") else not hit
        try:
            number, limit = Decimal(str(value)), Decimal(str(cond.value))
        except ArithmeticError:
            return False
        return {"gt": number > limit, "ge": number >= limit, "lt": number < limit, "le": number <= limit}[cond.op]

    def issues(self, key: CellKey) -> tuple[Issue, ...]:
        return self.cells[key].issues

    def acceptance(self, key: CellKey) -> tuple[Issue | None, Issue | None]:
        """The acceptance rule for one value, for the screen and the service alike: (why it is refused, which
        warning still needs a confirmation). An impossible value (format, hard range, impossible date, a check
        marked ``refuse``) is refused; an unusual one is stored only once confirmed; a cross-item inconsistency
        is stored and blocks completion instead."""
        refused = unconfirmed = None
        for issue in self.issues(key):
            if issue.severity is Severity.HARD and not issue.rule.startswith("check:") and refused is None:
                refused = issue
            elif issue.severity is Severity.SOFT and not issue.confirmed and unconfirmed is None:
                unconfirmed = issue
        return refused, unconfirmed

    def all_issues(self) -> list[Issue]:
        return [i for k in self.keys() for i in self.cells[k].issues]

    def blockers(self) -> list[Issue]:
        """What stops "Mark complete": hard problems, unconfirmed soft ones, required items left empty."""
        out: list[Issue] = []
        seen: set[tuple[str, str, int]] = set()
        for key in self.keys():
            if not self.visible(key):
                continue
            for issue in self.cells[key].issues:
                if issue.severity is Severity.SOFT and issue.confirmed:
                    continue
                tag = (issue.rule, key[0], key[1])
                if issue.rule.startswith("check:"):
                    if tag in seen:
                        continue
                    seen.add(tag)
                out.append(issue)
        for g in self.form.groups:
            if g.repeating and len(self.rows[g.id]) < g.min_rows:
                key = (g.id, 0, g.items[0].id)
                out.append(Issue(key, Severity.MISSING, "min_rows", L(
                    f"{g.label.en}: at least {g.min_rows} row(s) needed", f"{g.label.fr} : au moins {g.min_rows} "
                    "ligne(s) nécessaire(s)")))
        return out

    def hidden_with_value(self) -> list[CellKey]:
        return [k for k in self.keys() if not self.visible(k) and not self.cells[k].empty
                and not self._items[k[2]].calc]

    # ----- checking ----------------------------------------------------------------------------------------
    def _refresh(self, keys: Iterable[CellKey]) -> set[CellKey]:
        changed: set[CellKey] = set()
        for key in keys:
            if key not in self.cells:
                continue
            cell = self.cells[key]
            if cell.text is not None and any(i.rule == "format" for i in cell.issues):
                changed.add(key)
                continue
            new = tuple(self._check(key))
            if not _same_issues(cell.issues, new):
                cell.issues = new
            changed.add(key)
        return changed

    def _check(self, key: CellKey) -> Iterator[Issue]:
        item = self._items[key[2]]
        cell = self.cells[key]
        label = item.label.as_l()
        if not self.visible(key):
            return
        if cell.missing is not None:
            if not cell.missing_reason:
                yield Issue(key, Severity.MISSING, "missing_reason", _join(
                    label, L(f": '{cell.missing.label()}' needs a reason", f" : « {cell.missing.label()} » "
                             "nécessite une raison")))
            return
        if cell.value is None:
            if item.required:
                yield Issue(key, Severity.MISSING, "required", _join(label, L(": required", " : obligatoire")))
            return
        soft: list[Issue] = []
        hard: list[Issue] = []
        if item.type in NUMERIC_TYPES:
            hard += self._check_range(key, item, soft)
        if isinstance(cell.value, (dt.date, str)) and item.date_rules:
            hard += self._check_dates(key, item, soft)
        for check in self._checks_for(key):
            hard += self._run_check(key, check, soft)
        yield from hard
        if not any(not i.rule.startswith("check:") for i in hard):  # an impossible value needs no confirmation
            for issue in soft:
                yield replace(issue, confirmed=self._confirmed(key, issue.rule))

    def _confirmed(self, key: CellKey, rule: str) -> bool:
        """A cross-item warning confirmed on any of its fields is confirmed for all of them."""
        if rule in self.cells[key].confirmed:
            return True
        if not rule.startswith("check:"):
            return False
        for check in self._check_deps.get(key[2], []):
            if f"check:{check.function}" == rule:
                for ref in check.items:
                    other = self.cells.get(self.resolve(key, ref))
                    if other is not None and rule in other.confirmed:
                        return True
        return False

    def _check_range(self, key: CellKey, item: Item, soft: list[Issue]) -> Iterator[Issue]:
        cell = self.cells[key]
        if cell.unit and cell.unit != item.unit and not any(a.unit == cell.unit for a in item.alt_units):
            yield Issue(key, Severity.HARD, "unit", _join(item.label.as_l(), L(
                f": unit '{cell.unit}' is not allowed", f" : l'unité « {cell.unit} » n'est pas admise")))
            return
        value = self._canonical(key)
        if value is None:
            return
        if not ((item.hard_min is not None and value < item.hard_min) or (item.hard_max is not None
                                                                          and value > item.hard_max)
                or (item.soft_min is not None and value < item.soft_min)
                or (item.soft_max is not None and value > item.soft_max)):
            return  # in range: no message to make (most keystrokes)
        unit = f" {item.unit}" if item.unit else ""
        shown = _fmt(value.normalize() if isinstance(value, Decimal) else value)
        label = item.label.as_l()
        if item.hard_min is not None and value < item.hard_min:
            yield Issue(key, Severity.HARD, "hard_min", _join(label, COLON, shown, unit, L(
                " is below the lowest possible value ", " est sous la plus petite valeur possible "),
                _fmt(item.hard_min), unit))
        elif item.hard_max is not None and value > item.hard_max:
            yield Issue(key, Severity.HARD, "hard_max", _join(label, COLON, shown, unit, L(
                " is above the highest possible value ", " dépasse la plus grande valeur possible "),
                _fmt(item.hard_max), unit))
        elif item.soft_min is not None and value < item.soft_min:
            soft.append(Issue(key, Severity.SOFT, "soft_min", _join(label, COLON, shown, unit, L(
                " is unusually low (expected at least ", " est inhabituellement bas (attendu au moins "),
                _fmt(item.soft_min), unit, L("): please confirm", ") : à confirmer"))))
        elif item.soft_max is not None and value > item.soft_max:
            soft.append(Issue(key, Severity.SOFT, "soft_max", _join(label, COLON, shown, unit, L(
                " is unusually high (expected at most ", " est inhabituellement haut (attendu au plus "),
                _fmt(item.soft_max), unit, L("): please confirm", ") : à confirmer"))))

    def _check_dates(self, key: CellKey, item: Item, soft: list[Issue]) -> Iterator[Issue]:
        value = self.cells[key].value
        label = item.label.as_l()
        ctx = self.context
        if isinstance(value, dt.datetime):
            day, iso = value.date(), value.date().isoformat()
        elif isinstance(value, dt.date):
            day, iso = value, value.isoformat()
        else:
            day, iso = None, str(value)
        if DateRule.NOT_FUTURE in item.date_rules:
            future = (value > ctx.now) if isinstance(value, dt.datetime) else (
                iso > ctx.today.isoformat()[:len(iso)])
            if future:
                yield Issue(key, Severity.HARD, "not_future", _join(label, L(": is in the future", " : est dans le "
                                                                             "futur")))
        if DateRule.NOT_BEFORE_BIRTH in item.date_rules and ctx.birth_year is not None \
                and int(iso[:4]) < ctx.birth_year:
            yield Issue(key, Severity.HARD, "not_before_birth", _join(label, L(
                f": is before the subject's year of birth ({ctx.birth_year})",
                f" : est antérieure à l'année de naissance du patient ({ctx.birth_year})")))
        if DateRule.NOT_BEFORE_DAY0 in item.date_rules and ctx.day0 is not None and day is not None \
                and day < ctx.day0:
            yield Issue(key, Severity.HARD, "not_before_day0", _join(label, L(
                f": is before the infusion ({ctx.day0:%d/%m/%Y})",
                f" : est antérieure à la perfusion ({ctx.day0:%d/%m/%Y})")))
        if DateRule.IN_VISIT_WINDOW in item.date_rules and ctx.window is not None and day is not None:
            low, high = ctx.window
            if not low <= day <= high:
                soft.append(Issue(key, Severity.SOFT, "in_visit_window", _join(label, L(
                    f": outside the visit window {low:%d/%m/%Y} - {high:%d/%m/%Y}: please confirm",
                    f" : hors de la fenêtre de visite {low:%d/%m/%Y} - {high:%d/%m/%Y} : à confirmer"))))

    def _checks_for(self, key: CellKey) -> list[CheckRef]:
        return self._check_deps.get(key[2], [])

    def _run_check(self, key: CellKey, check: CheckRef, soft: list[Issue]) -> Iterator[Issue]:
        fn = CHECKS[check.function]
        inputs = [self._canonical(self.resolve(key, ref)) for ref in check.items]
        if any(v is None for v in inputs):
            return
        try:
            problem = fn.func(*inputs)
        except (ArithmeticError, ValueError, TypeError):
            problem = None
        if problem is None:
            return
        labels = " / ".join(self._items[i].label.en for i in check.items)
        labels_fr = " / ".join(self._items[i].label.fr for i in check.items)
        rule = f"refuse:{check.function}" if check.refuse and check.severity == "hard" else f"check:{check.function}"
        issue = Issue(key, Severity.HARD if check.severity == "hard" else Severity.SOFT, rule,
                      _join(L(labels, labels_fr), COLON, problem))
        if issue.severity is Severity.SOFT:
            soft.append(issue)
        else:
            yield issue


def _same_issues(old: tuple[Issue, ...], new: tuple[Issue, ...]) -> bool:
    """Whether a cell's issues are unchanged, messages compared by their words (``L`` compares by identity, and
    each check makes new ones): a cell re-checked to the same issues keeps its tuple, so a screen can tell at a
    glance (``is``) that nothing it shows has changed."""
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        if (a.rule != b.rule or a.severity is not b.severity or a.confirmed != b.confirmed or a.key != b.key
                or a.message.en != b.message.en or a.message.fr != b.message.fr):
            return False
    return True


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        try:
            return Decimal(str(wanted)) == Decimal(value)
        except ArithmeticError:
            return False
    return str(value) == str(wanted)


@dataclass(frozen=True)
class CellSummary:
    """A plain description of a cell for lists and PDFs."""

    key: CellKey
    value: Any
    unit: str | None
    missing: MissingCode | None
    missing_reason: str | None
    issues: tuple[Issue, ...] = field(default=())
