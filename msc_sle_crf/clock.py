"""Injectable time: one clock object for the wall clock, a monotonic clock and sleeping.

Tests drive time with ``FakeClock``; production uses ``SystemClock``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC datetime."""

    def local_offset_minutes(self) -> int:
        """Offset of local time from UTC at ``now()``, in minutes."""

    def monotonic(self) -> float:
        """Seconds that keep counting through a laptop's sleep and ignore changes of the wall clock."""

    def sleep(self, seconds: float) -> None: ...

    def boot_id(self) -> str:
        """Changes at every reboot: monotonic readings compare only within one boot."""


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return "unknown-boot"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def local_offset_minutes(self) -> int:
        # The system's offset at this instant (what ``datetime.now().astimezone()`` reads, at a tenth of the cost:
        # it runs twice per save, issue 13).
        return time.localtime().tm_gmtoff // 60

    def monotonic(self) -> float:
        # CLOCK_BOOTTIME counts suspended time (an infusion goes on while the laptop sleeps); CLOCK_MONOTONIC,
        # the fallback elsewhere, does not.
        boottime = getattr(time, "CLOCK_BOOTTIME", None)
        return time.clock_gettime(boottime) if boottime is not None else time.monotonic()

    def boot_id(self) -> str:
        return _boot_id()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to. ``sleep`` advances it and records the request."""

    def __init__(self, start: datetime | None = None, offset_minutes: int = 60) -> None:
        self._now = start or datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
        self._mono = 1000.0
        self.offset_minutes = offset_minutes
        self.sleeps: list[float] = []
        self.boot = "fake-boot-1"

    def now(self) -> datetime:
        return self._now

    def local_offset_minutes(self) -> int:
        return self.offset_minutes

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def boot_id(self) -> str:
        return self.boot

    def reboot(self, seconds_down: float = 60.0) -> None:
        """The machine restarts: the wall clock moves on, the monotonic clock starts again."""
        self._now += timedelta(seconds=seconds_down)
        self._mono = 10.0
        self.boot = f"fake-boot-{int(self.boot.rsplit('-', 1)[1]) + 1}"

    def jump_wall(self, seconds: float) -> None:
        """The wall clock jumps (time change, NTP) while the monotonic clock does not."""
        self._now += timedelta(seconds=seconds)


def local_now(clock: Clock) -> datetime:
    """The wall-clock time of the workstation (naive), as read at the bedside and typed into forms."""
    return (clock.now() + timedelta(minutes=clock.local_offset_minutes())).replace(tzinfo=None)


def iso_utc(dt: datetime) -> str:
    """Canonical text form of an aware datetime in UTC, microsecond precision: 2026-11-25T09:00:00.000000Z."""
    u = dt.astimezone(UTC)
    if u.year < 1000:  # strftime's %Y does not pad: kept as it was
        return u.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{u.year}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


def parse_iso_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def offset_text(minutes: int) -> str:
    """``UTC+01:00``, ``UTC-03:30``, ``UTC+05:45``: correct for offsets that are not whole hours."""
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def stored_local(ts_utc: str, utc_offset_min: int) -> datetime:
    """A stored UTC time as the workstation's wall clock showed it when it was recorded (naive)."""
    return (parse_iso_utc(ts_utc) + timedelta(minutes=utc_offset_min)).replace(tzinfo=None)


def format_stored(ts_utc: str, utc_offset_min: int, *, seconds: bool = True, offset: bool = True) -> str:
    """The one way a stored time is shown: ``25/11/2026 10:00:00 UTC+01:00`` (local time, then its offset)."""
    local = stored_local(ts_utc, utc_offset_min)
    text = local.strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")
    return f"{text} {offset_text(utc_offset_min)}" if offset else text
