"""The visit schedule of a subject: D0 = infusion date; each visit's target date and window from study.yaml;
its state today (done, in progress, due, overdue, out of window, upcoming) and the subject's next action.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L
from msc_sle_crf.status import FormStatus

DONE_STATES = frozenset({FormStatus.COMPLETE, FormStatus.VERIFIED, FormStatus.SIGNED, FormStatus.LOCKED})


class VisitState(StrEnum):
    DONE = "done"
    DONE_OUT_OF_WINDOW = "out_of_window"
    IN_PROGRESS = "in_progress"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"
    TO_DO = "to_do"  # no target date (screening, inclusion): to be done before the infusion

    def label(self) -> L:
        return _LABELS[self]


_LABELS = {
    VisitState.DONE: L("Done", "Faite"),
    VisitState.DONE_OUT_OF_WINDOW: L("Done, out of window", "Faite, hors fenêtre"),
    VisitState.IN_PROGRESS: L("In progress", "En cours"),
    VisitState.DUE: L("Due", "À faire"),
    VisitState.OVERDUE: L("Overdue", "En retard"),
    VisitState.UPCOMING: L("Upcoming", "À venir"),
    VisitState.TO_DO: L("To do", "À faire"),
}


@dataclass(frozen=True)
class VisitPlan:
    event: str
    label: L
    target: dt.date | None
    window: tuple[dt.date, dt.date] | None
    state: VisitState
    forms_complete: int
    forms_total: int
    visit_date: dt.date | None
    anchor: bool = False  # the visit study day 0 comes from (the infusion)


def plan(study: StudyDef, day0: dt.date | None, statuses: Mapping[tuple[str, str], str],
         visit_dates: Mapping[str, dt.date], today: dt.date) -> list[VisitPlan]:
    out: list[VisitPlan] = []
    unscheduled = study.bindings.unscheduled_events
    anchor_event = study.meta.anchor.event if study.meta.anchor else None
    for event in study.meta.events:
        if event.id in unscheduled:
            continue
        complete = sum(1 for f in event.forms if statuses.get((event.id, f)) in DONE_STATES)
        started = sum(1 for f in event.forms if (event.id, f) in statuses)
        target = window = None
        if day0 is not None and event.day is not None:
            target = day0 + dt.timedelta(days=event.day)
            window = (target - dt.timedelta(days=event.window_before), target + dt.timedelta(days=event.window_after))
        done_date = visit_dates.get(event.id)
        if complete == len(event.forms):
            state = VisitState.DONE
            if window is not None and done_date is not None and not window[0] <= done_date <= window[1]:
                state = VisitState.DONE_OUT_OF_WINDOW
        elif window is not None and today > window[1]:
            state = VisitState.OVERDUE
        elif started:
            state = VisitState.IN_PROGRESS
        elif window is not None and today >= window[0]:
            state = VisitState.DUE
        elif window is not None:
            state = VisitState.UPCOMING
        else:
            state = VisitState.TO_DO
        out.append(VisitPlan(event.id, event.label.as_l(), target, window, state, complete, len(event.forms),
                             done_date, event.id == anchor_event))
    return out


def next_action(plans: list[VisitPlan], *, ended: bool = False,  # noqa: PLR0911 - one answer per case
                reason: L | None = None) -> L:
    """What the site should do next for this subject, in a few words."""
    if ended:
        return L(f"Ended: {reason.en}", f"Terminé : {reason.fr}") if reason else L("Follow-up ended", "Suivi terminé")
    for p in plans:
        if p.state is VisitState.OVERDUE:
            assert p.window is not None
            return L(f"{p.label.en}: overdue since {p.window[1]:%d/%m/%Y}",
                     f"{p.label.fr} : en retard depuis le {p.window[1]:%d/%m/%Y}")
    for p in plans:
        if p.state in (VisitState.DUE, VisitState.IN_PROGRESS, VisitState.TO_DO):
            if p.window is not None:
                return L(f"{p.label.en}: due by {p.window[1]:%d/%m/%Y}", f"{p.label.fr} : avant le "
                         f"{p.window[1]:%d/%m/%Y}")
            if p.target is None and p.anchor:
                return L("Infusion to schedule", "Perfusion à programmer")
            return L(f"{p.label.en}: to complete", f"{p.label.fr} : à compléter")
        if p.state is VisitState.UPCOMING:
            assert p.window is not None
            return L(f"{p.label.en} from {p.window[0]:%d/%m/%Y}",
                     f"{p.label.fr} à partir du {p.window[0]:%d/%m/%Y}")
    return L("All visits done", "Toutes les visites faites")
