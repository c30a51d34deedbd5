"""A re-key and the reads made through their own keyed connection exclude each other.

The integrity check run in the background after sign-in reads the whole file through a raw connection opened with
the database key of that moment. Disabling an account or "Rotate keys" (store/rekey.py) rewrites every page under a
new key: a read still holding the old key then found pages it could not decrypt ("file is not a database"), or the
store closed under it, and the status bar said the check did not complete. Now the re-key asks each such read to
stop (``stop``: it interrupts its connection; the read also sees ``wanted`` at its next step), waits until it has
ended, and a read started meanwhile waits for the new key (the check then runs again on it)."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class KeyChanged(Exception):
    """Raised by a read between its steps when a re-key wants the file: it runs again on the new key."""


class KeyChange:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._changing = False
        self._readers: list[Callable[[], None]] = []
        self._threads: dict[int, int] = {}  # thread -> reads it holds (nested reads do not wait)
        self._changer: int | None = None
        self._waiting = 0

    @property
    def readers(self) -> int:
        """Reads in progress (registered at the gate)."""
        return len(self._readers)

    @property
    def waiting(self) -> int:
        """Reads waiting at the gate for the new key."""
        return self._waiting

    @property
    def wanted(self) -> bool:
        """A re-key is waiting for the reads in progress, or running."""
        return self._changing

    @contextlib.contextmanager
    def reading(self, stop: Callable[[], None]) -> Iterator[None]:
        """A read through its own keyed connection: waits while the key changes; ``stop`` is called (from the
        re-key's thread) when a re-key wants the file."""
        me = threading.get_ident()
        with self._cond:
            if me != self._changer and not self._threads.get(me):
                self._waiting += 1
                try:
                    self._cond.wait_for(lambda: not self._changing)
                finally:
                    self._waiting -= 1
            self._readers.append(stop)
            self._threads[me] = self._threads.get(me, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._readers.remove(stop)
                self._threads[me] -= 1
                if not self._threads[me]:
                    del self._threads[me]
                self._cond.notify_all()

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """The key changes: every read in progress is asked to stop and has ended before the body runs."""
        with self._cond:
            self._cond.wait_for(lambda: not self._changing)
            self._changing = True
            self._changer = threading.get_ident()
            stops = list(self._readers)
        try:
            for stop in stops:
                stop()
            with self._cond:
                self._cond.wait_for(lambda: not self._readers)
            yield
        finally:
            with self._cond:
                self._changing = False
                self._changer = None
                self._cond.notify_all()


def read_again_after_rekey(site: Any, body: Callable[[threading.Event], T],
                           on_restart: Callable[[], None] | None = None) -> T:
    """Run ``body(wanted)`` as a read of the gate of ``site``: ``wanted`` is set when a re-key wants the file; the
    body then raises ``KeyChanged`` at its next step (``stop_if``) before anything is final, and runs again from the
    start once the key has changed (``on_restart`` is told)."""
    gate = key_change(site)
    while True:
        wanted = threading.Event()
        try:
            with gate.reading(wanted.set):
                return body(wanted)
        except KeyChanged:
            if on_restart is not None:
                on_restart()


def stop_if(wanted: threading.Event) -> None:
    """Between two steps of a read: a re-key wants the file (``read_again_after_rekey`` runs it again)."""
    if wanted.is_set():
        raise KeyChanged


_GATES: weakref.WeakKeyDictionary[Any, KeyChange] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def key_change(site: Any) -> KeyChange:
    """The one ``KeyChange`` of an open site (one program per database: the instance lock)."""
    with _LOCK:
        gate = _GATES.get(site)
        if gate is None:
            gate = _GATES[site] = KeyChange()
        return gate
