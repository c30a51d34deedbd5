"""CTCAE toxicity by window (clinical-reference.md section 7; windows in ``scoring.toxicity`` of study.yaml).

For each window of study days (D0-D10, then up to M1, M3, M6, M9, M12) and each subject: the maximum CTCAE grade
overall and per system organ class, for all adverse events and for those related to the cells; "not tolerated"
(any grade >= ``min_grade``) with the events that drive it; the serious adverse events. A window is *decided*
once its last day is over, its review form is complete (when the rules require it) and every event that may fall
in it is dated and graded (and, for the related-only view, assessed for relationship). Until then its answer is
"not decided yet", with the reason; only a driving event decides "not tolerated" early.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreResult, not_computable
from msc_sle_crf.scoring.ctcae import catalogue
from msc_sle_crf.scoring.rules import ToxicityRules, ToxicityWindow, published_rules

UNKNOWN_SOC = "(term not in CTCAE v5.0)"


@dataclass(frozen=True)
class AdverseEvent:
    term: str
    grade: int | None
    onset: dt.date | None
    relationship: str | None  # code from the AE form's code list
    serious: bool | None = None
    ref: str = ""  # where it was recorded (subject and row), for listings

    @property
    def soc(self) -> str:
        found = catalogue().get(self.term)
        return found.soc if found is not None else UNKNOWN_SOC

    def day(self, day0: dt.date) -> int | None:
        return None if self.onset is None else (self.onset - day0).days

    def describe(self) -> L:
        onset = f"{self.onset:%d/%m/%Y}" if self.onset else "?"
        grade = self.grade if self.grade is not None else "?"
        serious = (" (serious)", " (grave)") if self.serious else ("", "")
        return L(f"{self.term}, grade {grade}, onset {onset}{serious[0]}",
                 f"{self.term}, grade {grade}, début {onset}{serious[1]}")


def related(event: AdverseEvent, rules: ToxicityRules) -> bool | None:
    return None if event.relationship is None else event.relationship in rules.related


@dataclass(frozen=True)
class View:
    """One window seen for all events or for related ones only."""

    related_only: bool
    events: tuple[AdverseEvent, ...]  # counted in this view
    decided: bool
    reason: L | None  # why not decided
    max_grade: int  # 0 when no event; while not decided, the maximum so far
    by_soc: dict[str, int]  # SOC -> maximum grade
    drivers: tuple[AdverseEvent, ...]  # grade >= min_grade

    @property
    def not_tolerated(self) -> bool | None:
        return True if self.drivers else (False if self.decided else None)


@dataclass(frozen=True)
class WindowToxicity:
    window: ToxicityWindow
    start: dt.date | None
    end: dt.date | None
    closed: bool  # the last day is over
    reviewed: bool | None  # its review form is complete (None: the window has none)
    all: View
    related: View
    serious: tuple[AdverseEvent, ...]

    def view(self, related_only: bool) -> View:
        return self.related if related_only else self.all


def _view(in_window: Sequence[AdverseEvent], undated: Sequence[AdverseEvent], open_reason: L | None,
          rules: ToxicityRules, *, related_only: bool) -> View:
    if related_only:
        counted = [e for e in in_window if related(e, rules)]
        unassessed = [e for e in in_window if e.relationship is None]
    else:
        counted, unassessed = list(in_window), []
    graded = [e for e in counted if e.grade is not None]
    ungraded = [e for e in counted if e.grade is None]
    by_soc: dict[str, int] = {}
    for e in graded:
        assert e.grade is not None
        by_soc[e.soc] = max(by_soc.get(e.soc, 0), e.grade)
    drivers = tuple(e for e in graded if e.grade is not None and e.grade >= rules.min_grade)
    reasons: list[L] = []
    if open_reason is not None:
        reasons.append(open_reason)
    if undated:
        reasons.append(L(f"{len(undated)} event(s) without onset date", f"{len(undated)} événement(s) sans date de "
                                                                        "début"))
    if ungraded:
        reasons.append(L(f"{len(ungraded)} event(s) without grade", f"{len(ungraded)} événement(s) sans grade"))
    if unassessed:
        reasons.append(L(f"relationship not assessed for {len(unassessed)} event(s)",
                         f"imputabilité non évaluée pour {len(unassessed)} événement(s)"))
    reason = L("; ".join(r.en for r in reasons), " ; ".join(r.fr for r in reasons)) if reasons else None
    return View(related_only, tuple(counted), not reasons, reason, max(by_soc.values(), default=0), by_soc, drivers)


def window_toxicity(events: Sequence[AdverseEvent], day0: dt.date | None, window: ToxicityWindow,
                    rules: ToxicityRules, *, today: dt.date, reviewed: bool | None,
                    review_visit: L | None = None) -> WindowToxicity:
    """One window of one subject. ``reviewed``: whether the window's review form is complete (None when the window
    has no review visit); ``review_visit``: that visit's name (its code when not given)."""
    if day0 is None:
        reason = L("no infusion date", "pas de date de perfusion")
        empty = View(False, (), False, reason, 0, {}, ())
        return WindowToxicity(window, None, None, False, reviewed, empty,
                              View(True, (), False, reason, 0, {}, ()), ())
    start = day0 + dt.timedelta(days=window.from_day)
    end = day0 + dt.timedelta(days=window.to_day)
    in_window = [e for e in events if e.onset is not None and start <= e.onset <= end]
    undated = [e for e in events if e.onset is None]
    closed = today > end
    reasons: list[L] = []
    if not closed:
        reasons.append(L(f"the window runs until D{window.to_day} ({end:%d/%m/%Y})",
                         f"la fenêtre court jusqu'à J{window.to_day} ({end:%d/%m/%Y})"))
    if rules.require_review and reviewed is False:
        visit = review_visit or L(str(window.review_event), str(window.review_event))
        reasons.append(L(f"the review form of the visit “{visit.en}” is not complete",
                         f"le formulaire de revue de la visite « {visit.fr} » n'est pas complet"))
    open_reason = L("; ".join(r.en for r in reasons), " ; ".join(r.fr for r in reasons)) if reasons else None
    serious = tuple(e for e in in_window if e.serious)
    return WindowToxicity(window, start, end, closed, reviewed,
                          _view(in_window, undated, open_reason, rules, related_only=False),
                          _view(in_window, undated, open_reason, rules, related_only=True), serious)


def by_window(events: Sequence[AdverseEvent], day0: dt.date | None, rules: ToxicityRules | None = None, *,
              today: dt.date, reviewed: Mapping[str, bool] | None = None,
              visits: Mapping[str, L] | None = None) -> tuple[WindowToxicity, ...]:
    """Every window of the rules, in order. ``reviewed``: review visit -> its review form is complete; ``visits``:
    visit -> its name (what a reason says; the visit's code when not given)."""
    rules = rules if rules is not None else published_rules().toxicity
    reviewed, visits = reviewed or {}, visits or {}
    return tuple(window_toxicity(events, day0, w, rules, today=today,
                                 reviewed=None if w.review_event is None else reviewed.get(w.review_event, False),
                                 review_visit=visits.get(w.review_event or ""))
                 for w in sorted(rules.windows, key=lambda w: w.from_day))


def outside_windows(events: Sequence[AdverseEvent], day0: dt.date | None,
                    rules: ToxicityRules | None = None) -> tuple[AdverseEvent, ...]:
    """Dated events whose onset falls in no window (before D0, after the last window): listed, never dropped."""
    rules = rules if rules is not None else published_rules().toxicity
    if day0 is None:
        return ()
    days = [(w.from_day, w.to_day) for w in rules.windows]
    return tuple(e for e in events if (d := e.day(day0)) is not None and not any(a <= d <= b for a, b in days))


def not_tolerated_result(tox: WindowToxicity, rules: ToxicityRules, *, related_only: bool) -> ScoreResult:
    """The window's "not tolerated" answer as a score, with the events that drive it."""
    name = "not_tolerated_related" if related_only else "not_tolerated_all"
    w = tox.window
    rule = (f"grade >= {rules.min_grade} with onset D{w.from_day}-D{w.to_day}"
            + (" and related to the cells" if related_only else ", any relationship"))
    view = tox.view(related_only)
    if view.drivers:
        parts = tuple(Part(e.term, e.describe(), e.grade) for e in view.drivers)
        return ScoreResult(name, True, rule, parts)
    if not view.decided:
        return not_computable(name, rule, view.reason or L("not decided yet", "pas encore déterminé"))
    return ScoreResult(name, False, rule, ())
