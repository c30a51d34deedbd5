"""Where an infusion stands now, from its stored events and readings: the timer and the schedule of vital signs.

The bedside, the lock screen and the subject list all show the same thing once a second; they compute it here from
what they read once (no database access per second).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from msc_sle_crf.i18n import L
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.protocol import InfusionProtocol
from msc_sle_crf.infusion.vitals import PlannedPoint, PointState, next_point, schedule


@dataclass(frozen=True)
class Monitor:
    timer: T.TimerState
    points: tuple[PlannedPoint, ...]

    @property
    def next(self) -> PlannedPoint | None:
        return next_point(list(self.points))

    @property
    def active(self) -> bool:
        """Started, and either running, paused, or with readings after the end still to take."""
        if self.timer.phase is T.Phase.NOT_STARTED:
            return False
        if self.timer.phase is not T.Phase.STOPPED:
            return True
        return any(p.state in (PointState.DUE, PointState.OVERDUE, PointState.UPCOMING) for p in self.points)

    @property
    def overdue(self) -> bool:
        return any(p.state is PointState.OVERDUE for p in self.points)

    @property
    def due(self) -> bool:
        return any(p.state is PointState.DUE for p in self.points)


def monitor(events: Sequence[T.TimerEvent], now: T.Now, protocol: InfusionProtocol, *, done: set[str],
            not_done: set[str]) -> Monitor:
    timer = T.compute(events, now, protocol)
    points = schedule(protocol, timer.started, timer.stopped, now.wall, done=done, not_done=not_done)
    return Monitor(timer, tuple(points))


def mmss(seconds: float) -> str:
    """A duration as the running clock shows it: ``05:00``, ``1:05:00``."""
    whole = int(max(0, seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def point_text(p: PlannedPoint) -> L:
    """A time point with what to do about it now: overdue by, due now, in mm:ss."""
    if p.state is PointState.OVERDUE:
        late = mmss(-(p.seconds_to_due or 0))
        return L(f"{p.label.en}: OVERDUE by {late}", f"{p.label.fr} : EN RETARD de {late}")
    if p.state is PointState.DUE:
        return L(f"{p.label.en}: due now", f"{p.label.fr} : à faire maintenant")
    if p.state is PointState.UPCOMING and p.seconds_to_due is not None:
        wait = mmss(p.seconds_to_due)
        return L(f"{p.label.en} in {wait}", f"{p.label.fr} dans {wait}")
    return p.label


def summary(subject: str, state: Monitor) -> L:
    """One line for the lock screen and the subject list: subject number, phase and running time, next reading."""
    phase = T.phase_label(state.timer.phase)
    clock = mmss(state.timer.running_seconds)
    en = f"Subject {subject} · infusion {phase.en.lower()} {clock}"
    fr = f"Patient {subject} · perfusion {phase.fr.lower()} {clock}"
    nxt = state.next
    if nxt is not None:
        text = point_text(nxt)
        en += f" · next reading: {text.en}"
        fr += f" · prochaine mesure : {text.fr}"
    return L(en, fr)
