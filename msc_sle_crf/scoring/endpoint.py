"""Primary endpoint: the infusion is "not tolerated" if any toxicity of grade >= 3 occurs between D0 and D10
(clinical-reference.md section 7). Computed for all adverse events and for related ones only (CONFIRM WITH
SPONSOR which one the protocol means), each with the events that drive it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreResult, not_computable
from msc_sle_crf.scoring.rules import ToleranceRules


@dataclass(frozen=True)
class AdverseEvent:
    term: str
    grade: int | None
    onset: dt.date | None
    relationship: str | None  # code from the AE form's code list


def not_tolerated(events: Sequence[AdverseEvent], day0: dt.date | None, *, related_only: bool,
                  rules: ToleranceRules | None = None, today: dt.date | None = None) -> ScoreResult:
    rules = rules or ToleranceRules()
    name = "not_tolerated_related" if related_only else "not_tolerated_all"
    rule = (f"grade >= {rules.min_grade} with onset D0-D{rules.window_days}"
            + (" and related to the cells" if related_only else ", any relationship"))
    if day0 is None:
        return not_computable(name, rule, L("no infusion date", "pas de date de perfusion"))
    end = day0 + dt.timedelta(days=rules.window_days)
    in_window = [e for e in events if e.onset is not None and day0 <= e.onset <= end]
    undated = [e for e in events if e.onset is None]
    counted = [e for e in in_window if not related_only or (e.relationship in rules.related)]
    drivers = [e for e in counted if e.grade is not None and e.grade >= rules.min_grade]
    parts = tuple(Part(e.term, L(f"{e.term}, grade {e.grade}, onset {e.onset:%d/%m/%Y}",
                                 f"{e.term}, grade {e.grade}, début {e.onset:%d/%m/%Y}"), e.grade)
                  for e in drivers if e.onset is not None)
    if drivers:
        return ScoreResult(name, True, rule, parts)
    ungraded = [e for e in counted if e.grade is None]
    if undated or ungraded:
        return not_computable(name, rule, L(f"{len(undated) + len(ungraded)} event(s) without onset date or grade",
                                            f"{len(undated) + len(ungraded)} événement(s) sans date de début ou "
                                            "grade"))
    if related_only and any(e.relationship is None for e in in_window):
        return not_computable(name, rule, L("relationship not assessed for every event",
                                            "imputabilité non évaluée pour tous les événements"))
    if today is not None and today < end:
        return not_computable(name, rule, L(f"the window runs until D{rules.window_days} ({end:%d/%m/%Y})",
                                            f"la fenêtre court jusqu'à J{rules.window_days} ({end:%d/%m/%Y})"))
    return ScoreResult(name, False, rule, ())
