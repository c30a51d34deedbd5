"""The largest form of the benchmarks: 151 fields (110 items of every type in one section, a calculated item, and a
repeating group of 10 items with 4 rows), and a study holding only it (visit V1)."""

from __future__ import annotations

from typing import Any

from msc_sle_crf.formdef.definitions import EventDef, FormDef, StudyDef


def big_form() -> FormDef:
    """150 items: 110 in one section (every type, ranges, a show-if every 10 items), 4 rows x 10 repeating."""
    types = ["integer", "decimal", "text", "date", "partial_date", "time", "choice", "yesno", "integer", "decimal"]
    items = []
    for n in range(110):
        t = types[n % len(types)]
        item: dict[str, Any] = {"id": f"I{n:03d}", "type": t, "label": {"en": f"Item {n} in English", "fr": f"Élément {n}"},
                      "required": n % 3 == 0}
        if t in ("integer", "decimal"):
            item.update({"hard_min": 0, "hard_max": 500, "soft_min": 10, "soft_max": 300, "unit": "mg"})
        if t == "decimal":
            item["precision"] = 1
        if t == "choice":
            item["codelist"] = "five"
        if t in ("date", "partial_date"):
            item["date_rules"] = ["not_future"]
        if n % 10 == 5 and n > 10:
            item["show_if"] = {"item": "I007", "op": "eq", "value": "Y"}
        items.append(item)
    items.append({"id": "SUMCALC", "type": "decimal", "precision": 1, "label": {"en": "BMI", "fr": "IMC"},
                  "calc": {"function": "bmi", "inputs": ["I001", "I000"]}})
    rows = [{"id": f"R{n:02d}", "type": "integer" if n % 2 else "decimal", "precision": None if n % 2 else 1,
             "label": {"en": f"Row item {n}", "fr": f"Ligne {n}"}, "hard_min": 0, "hard_max": 300,
             "soft_min": 20, "soft_max": 200} for n in range(10)]
    for r in rows:
        if r["precision"] is None:
            del r["precision"]
    return FormDef.model_validate({
        "id": "big", "version": "1", "label": {"en": "Largest form", "fr": "Plus grand formulaire"},
        "entry": "nursing",
        "codelists": {"five": {"items": [{"code": str(i), "label": {"en": f"Choice {i}", "fr": f"Choix {i}"}}
                                         for i in range(5)]}},
        "groups": [{"id": "main", "label": {"en": "Main", "fr": "Principal"}, "items": items},
                   {"id": "rows", "label": {"en": "Rows", "fr": "Lignes"}, "repeating": True, "items": rows}],
        "checks": [{"function": "diastolic_below_systolic", "items": ["R01", "R03"]}],
    })


def big_study(shipped: StudyDef) -> StudyDef:
    """The shipped study (its settings, scoring and bindings) with one visit, V1, holding the largest form."""
    meta = shipped.meta.model_copy(update={"events": (EventDef(id="V1", label=shipped.meta.title, forms=("big",)),)})
    return shipped.model_copy(update={"meta": meta, "forms": {"big": big_form()}})


_TEXT = {"integer": "150", "decimal": "45.5", "text": "note", "date": "01/02/2020", "partial_date": "UK/02/2020",
         "time": "10:30", "choice": "2", "yesno": "Y"}


def filled(form: FormDef, rows: int = 4) -> dict[tuple[str, int, str], str]:
    """A valid value for every field that takes one (the main section and ``rows`` rows of the repeating group),
    as a user would have entered them: a form full of data."""
    out: dict[tuple[str, int, str], str] = {}
    for group in form.groups:
        for row in (range(1, rows + 1) if group.repeating else (0,)):
            for item in group.items:
                if item.calc is None:
                    out[(group.id, row, item.id)] = "50" if group.repeating else _TEXT[item.type.value]
    return out
