"""The values of calculated items (``calc:`` in a form, e.g. BMI from weight and height), added to the stream of
stored values an export reads, so the datasets, their Dataset-JSON copies and the ODM snapshot carry what the form
shows. A calculated item is never stored (services/entry.py refuses a value for it): the form's engine computes it
when the form is opened, from the values stored under the definition the form instance was entered under. Here the
same engine does the same (``FormState`` loaded as ``services.editing.load`` loads it, then ``revalidate_all``), one
form instance at a time: memory stays that of one form, whatever the size of the trial.

Rows: a plain group's single row always; a repeating group's rows that hold at least one stored value (a row with
no stored value at all is not in the datasets either). A calculated value that cannot be computed (an input empty,
hidden or not parsable) or whose item is hidden is left out, as the form leaves it blank. A decimal is rounded
half-up to the item's precision, as the form shows it. No Qt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from msc_sle_crf.export.source import InstanceRow, ValueRow
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import FormDef, Item, MissingCode, StudyDef
from msc_sle_crf.formdef.engine import FormContext, FormState
from msc_sle_crf.rounding import round_half_up

# the engine's checks read "now"; calculations never do (their values do not depend on it)
_NOW = dt.datetime(2000, 1, 1)


def with_calculated(values: Iterable[ValueRow], instances: Iterable[InstanceRow], study: StudyDef,
                    definition: Callable[[str, str], FormDef | None],
                    removed: set[tuple[int, str, int]]) -> Iterator[ValueRow]:
    """``values`` (ordered by form instance, then group and row, as ``Source.values`` gives them) with, after the
    stored values of each row, the calculated values of that row (``unit`` and ``canonical`` None, as stored values
    of a unitless item). Instances whose definition has no calculated item pass through untouched."""
    by_id = {i.id: i for i in instances}
    current: int | None = None
    buffered: list[ValueRow] = []
    for v in values:
        if v.instance_id != current:
            if buffered:
                yield from _instance(buffered, by_id.get(buffered[0].instance_id), study, definition, removed)
            current, buffered = v.instance_id, []
        buffered.append(v)
    if buffered:
        yield from _instance(buffered, by_id.get(buffered[0].instance_id), study, definition, removed)


def _instance(rows: list[ValueRow], inst: InstanceRow | None, study: StudyDef,
              definition: Callable[[str, str], FormDef | None],
              removed: set[tuple[int, str, int]]) -> Iterator[ValueRow]:
    form = definition(inst.form_hash, inst.form) if inst is not None else None
    if inst is None or form is None or not any(item.calc for item in form.all_items()):
        yield from rows
        return
    computed = _computed(rows, inst, form, study, removed)
    # each row's stored values, then its calculated ones; rows with only calculated values after the others
    seen: set[tuple[str, int]] = set()
    for n, v in enumerate(rows):
        yield v
        key = (v.group, v.row_no)
        seen.add(key)
        if n + 1 == len(rows) or (rows[n + 1].group, rows[n + 1].row_no) != key:
            yield from computed.get(key, ())
    for key, extra in computed.items():
        if key not in seen:
            yield from extra


def _as_shown(item: Item, value: object) -> object:
    """A calculated decimal rounded as the form shows it (``values.display``: half-up to the item's precision);
    94.3854... with precision 1 is exported 94.4, never with the calculation's 28 digits of Decimal noise."""
    if isinstance(value, Decimal) and item.precision is not None:
        return round_half_up(value, item.precision)
    return value


def _computed(rows: list[ValueRow], inst: InstanceRow, form: FormDef, study: StudyDef,
              removed: set[tuple[int, str, int]]) -> dict[tuple[str, int], list[ValueRow]]:
    """(group, row) -> the calculated values of that row, as the form shows them when opened."""
    state = FormState(form, FormContext(now=_NOW), dict(study.meta.codelists))
    for v in rows:
        if (inst.id, v.group, v.row_no) in removed or not form.has_item(v.item):
            continue
        item = form.item(v.item)
        if item.calc or form.group_of(v.item).id != v.group:
            continue
        state.load((v.group, v.row_no, v.item), V.from_storage(item, v.value), unit=v.unit,
                   missing=MissingCode(v.missing_code) if v.missing_code else None,
                   missing_reason=v.missing_reason)
    state.revalidate_all()
    out: dict[tuple[str, int], list[ValueRow]] = {}
    subject_id = rows[0].subject_id
    for group in form.groups:
        for row in state.rows[group.id]:
            if (inst.id, group.id, row) in removed:
                continue
            for item in group.items:
                key = (group.id, row, item.id)
                if not item.calc or not state.visible(key):
                    continue
                text = V.to_storage(_as_shown(item, state.value(key)))
                if text is not None:
                    out.setdefault((group.id, row), []).append(ValueRow(
                        subject_id, inst.id, group.id, row, item.id, text, None, None, None, None))
    return out

