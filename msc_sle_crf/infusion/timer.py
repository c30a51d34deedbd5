"""The infusion timer, computed from its stored events (never from a running counter), so a crash, a lock, a user
switch or a restart finds it exactly where it was.

Each event keeps the wall-clock time (UTC, what is recorded and shown) and a monotonic reading with the boot it
belongs to. Elapsed time uses the monotonic clock between two events of the same boot (a change of the wall clock
does not matter; the laptop's sleep counts, as the infusion goes on), and the wall clock otherwise (after a reboot,
or for a time corrected by hand with a reason).

A stop made by mistake is undone by a later ``undo_stop`` event (within ``InfusionProtocol.undo_stop_minutes``, with
a reason): both stay in the record, and the timer reads as if that stop had not happened (the infusion went on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from msc_sle_crf.i18n import L
from msc_sle_crf.infusion.protocol import InfusionProtocol


class Kind(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    UNDO_STOP = "undo_stop"


class Phase(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True)
class TimerEvent:
    id: int
    kind: Kind
    wall: dt.datetime  # aware UTC
    mono: float | None
    boot: str | None
    reason: str | None = None
    corrected: bool = False  # its time was changed by hand (with a reason): only the wall time counts


@dataclass(frozen=True)
class Now:
    wall: dt.datetime
    mono: float
    boot: str


@dataclass(frozen=True)
class TimerState:
    phase: Phase
    started: dt.datetime | None
    stopped: dt.datetime | None
    running_seconds: float  # infusion time, pauses excluded
    paused_seconds: float
    pauses: tuple[tuple[dt.datetime, dt.datetime | None, str | None], ...]
    deviation: L | None  # duration outside the protocol's range (recorded, never blocked)
    undone_stops: tuple[tuple[dt.datetime, dt.datetime, str | None], ...] = ()  # (stop, undone at, reason)
    last_stop: TimerEvent | None = None  # the stop in force (what an undo would take back)

    @property
    def running_minutes(self) -> float:
        return self.running_seconds / 60


def _between(a: TimerEvent | Now, b: TimerEvent | Now) -> float:
    a_corrected = isinstance(a, TimerEvent) and a.corrected
    b_corrected = isinstance(b, TimerEvent) and b.corrected
    if a.mono is not None and b.mono is not None and a.boot is not None and a.boot == b.boot \
            and not a_corrected and not b_corrected:
        return max(0.0, b.mono - a.mono)
    return max(0.0, (b.wall - a.wall).total_seconds())


class TimerError(ValueError):
    def __init__(self, message: L) -> None:
        super().__init__(message.en)
        self.message = message


ALLOWED = {
    Phase.NOT_STARTED: {Kind.START},
    Phase.RUNNING: {Kind.PAUSE, Kind.STOP},
    Phase.PAUSED: {Kind.RESUME, Kind.STOP},
    Phase.STOPPED: {Kind.UNDO_STOP},
}


def _without_undone_stops(events: Sequence[TimerEvent]
                          ) -> tuple[list[TimerEvent], list[tuple[dt.datetime, dt.datetime, str | None]]]:
    """The events with each stop that was undone taken out (with its undo), and those (stop, undo, reason)."""
    kept: list[TimerEvent] = []
    undone: list[tuple[dt.datetime, dt.datetime, str | None]] = []
    phase = Phase.NOT_STARTED
    for event in sorted(events, key=lambda e: e.id):
        if event.kind is Kind.UNDO_STOP:
            if phase is Phase.STOPPED:
                stop = kept.pop()
                undone.append((stop.wall, event.wall, event.reason))
                phase = _replay(kept)
            continue
        if event.kind in ALLOWED[phase]:
            kept.append(event)
            phase = _step(phase, event.kind)
    return kept, undone


def _step(phase: Phase, kind: Kind) -> Phase:
    return {Kind.START: Phase.RUNNING, Kind.PAUSE: Phase.PAUSED, Kind.RESUME: Phase.RUNNING,
            Kind.STOP: Phase.STOPPED}.get(kind, phase)


def _replay(events: Sequence[TimerEvent]) -> Phase:
    phase = Phase.NOT_STARTED
    for event in events:
        phase = _step(phase, event.kind)
    return phase


def compute(events: Sequence[TimerEvent], now: Now, protocol: InfusionProtocol | None = None) -> TimerState:
    protocol = protocol or InfusionProtocol()
    events, undone = _without_undone_stops(events)
    phase = Phase.NOT_STARTED
    started = stopped = None
    running = paused = 0.0
    pauses: list[tuple[dt.datetime, dt.datetime | None, str | None]] = []
    last: TimerEvent | None = None
    for event in sorted(events, key=lambda e: e.id):
        if event.kind not in ALLOWED[phase]:
            continue  # refused when recorded; ignored if ever present
        if last is not None:
            if phase is Phase.RUNNING:
                running += _between(last, event)
            elif phase is Phase.PAUSED:
                paused += _between(last, event)
        if event.kind is Kind.START:
            phase, started = Phase.RUNNING, event.wall
        elif event.kind is Kind.PAUSE:
            phase = Phase.PAUSED
            pauses.append((event.wall, None, event.reason))
        elif event.kind is Kind.RESUME:
            phase = Phase.RUNNING
            start, _, reason = pauses[-1]
            pauses[-1] = (start, event.wall, reason)
        elif event.kind is Kind.STOP:
            if phase is Phase.PAUSED:
                start, _, reason = pauses[-1]
                pauses[-1] = (start, event.wall, reason)
            phase, stopped = Phase.STOPPED, event.wall
        last = event
    if last is not None and phase is Phase.RUNNING:
        running += _between(last, now)
    elif last is not None and phase is Phase.PAUSED:
        paused += _between(last, now)
    deviation = None
    if phase is Phase.STOPPED:
        minutes = running / 60
        if minutes < protocol.min_duration_min or minutes > protocol.max_duration_min:
            deviation = L(f"Infusion lasted {minutes:.0f} min, outside {protocol.min_duration_min}-"
                          f"{protocol.max_duration_min} min: a protocol deviation, comment it",
                          f"La perfusion a duré {minutes:.0f} min, hors de {protocol.min_duration_min}-"
                          f"{protocol.max_duration_min} min : déviation au protocole, à commenter")
    last_stop = last if phase is Phase.STOPPED else None
    return TimerState(phase, started, stopped, running, paused, tuple(pauses), deviation, tuple(undone), last_stop)


def undo_left_seconds(state: TimerState, now: Now, protocol: InfusionProtocol) -> float:
    """How long a stop can still be undone (0 when it cannot: not stopped, or too late)."""
    if state.phase is not Phase.STOPPED or state.last_stop is None:
        return 0.0
    return max(0.0, protocol.undo_stop_minutes * 60 - _between(state.last_stop, now))


def check_next(events: Sequence[TimerEvent], kind: Kind, now: Now, protocol: InfusionProtocol | None = None) -> None:
    """Raise ``TimerError`` when ``kind`` makes no sense now (e.g. resume while running, or undo a stop made more
    than ``undo_stop_minutes`` ago)."""
    protocol = protocol or InfusionProtocol()
    state = compute(events, now, protocol)
    phase = state.phase
    if kind not in ALLOWED[phase]:
        raise TimerError(L(f"cannot {_VERB_EN[kind]} an infusion that is {phase.value.replace('_', ' ')}",
                           f"action impossible ({_VERB_FR[kind]}) : la perfusion est {_PHASE_FR[phase]}"))
    if kind is Kind.UNDO_STOP and undo_left_seconds(state, now, protocol) <= 0:
        minutes = protocol.undo_stop_minutes
        raise TimerError(L(f"a stop can be undone only within {minutes} min; correct the end time instead "
                           "(Correct a time…)",
                           f"un arrêt ne peut être annulé que dans les {minutes} min ; corriger plutôt l'heure de "
                           "fin (Corriger une heure…)"))


_VERB_EN = {Kind.START: "start", Kind.PAUSE: "pause", Kind.RESUME: "resume", Kind.STOP: "stop",
            Kind.UNDO_STOP: "undo the stop of"}
_VERB_FR = {Kind.START: "démarrer", Kind.PAUSE: "mettre en pause", Kind.RESUME: "reprendre", Kind.STOP: "arrêter",
            Kind.UNDO_STOP: "annuler l'arrêt"}


_PHASE_FR = {Phase.NOT_STARTED: "non commencée", Phase.RUNNING: "en cours", Phase.PAUSED: "en pause",
             Phase.STOPPED: "terminée"}


def phase_label(phase: Phase) -> L:
    return L(phase.value.replace("_", " ").capitalize(), _PHASE_FR[phase].capitalize())
