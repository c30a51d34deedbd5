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
from typing import Any


class KeyChange:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._changing = False
        self._readers: list[Callable[[], None]] = []

    @property
    def wanted(self) -> bool:
        """A re-key is waiting for the reads in progress, or running."""
        return self._changing

    @contextlib.contextmanager
    def reading(self, stop: Callable[[], None]) -> Iterator[None]:
        """A read through its own keyed connection: waits while the key changes; ``stop`` is called (from the
        re-key's thread) when a re-key wants the file."""
        with self._cond:
            self._cond.wait_for(lambda: not self._changing)
            self._readers.append(stop)
        try:
            yield
        finally:
            with self._cond:
                self._readers.remove(stop)
                self._cond.notify_all()

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """The key changes: every read in progress is asked to stop and has ended before the body runs."""
        with self._cond:
            self._cond.wait_for(lambda: not self._changing)
            self._changing = True
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
                self._cond.notify_all()


_GATES: weakref.WeakKeyDictionary[Any, KeyChange] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def key_change(site: Any) -> KeyChange:
    """The one ``KeyChange`` of an open site (one program per database: the instance lock)."""
    with _LOCK:
        gate = _GATES.get(site)
        if gate is None:
            gate = _GATES[site] = KeyChange()
        return gate
