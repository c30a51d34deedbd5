"""Operations: the one way the screens run a write (as Anki's ``aqt.operations`` do).

``Ops.run`` calls a service write, shows a refusal the same way everywhere (one clear line naming the field and
the rule, in the user's language; never a traceback), and emits ``data_changed`` with the write's change record,
so that every open screen decides from it what to redraw. ``Ops.background`` does the same off the UI thread for
long work, with progress and cancel. Screens never redraw "by hand" after someone else's write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from msc_sle_crf.errors import AuthenticationError, CrfError, Msg
from msc_sle_crf.services.changes import Changes, changes_of
from msc_sle_crf.ui.common import error_text, run_in_background

T = TypeVar("T")

# What a screen does with a refusal instead of the standard message box (show it inline, revert a field...).
ErrorHandler = Callable[[CrfError], None]


def ends_session(exc: BaseException) -> bool:
    """The refusal that ends the session: its account was disabled (here, or on another workstation and imported)."""
    return isinstance(exc, AuthenticationError) and exc.msg is Msg.ACCOUNT_DISABLED


def show_error(parent: QWidget | None, title: str, exc: BaseException) -> None:
    """A refusal or failure as one clear message (an unexpected error gets an incident number, logged)."""
    QMessageBox.warning(parent, title, error_text(exc))


class Ops(QObject):
    """Runs the writes of one main window and tells every screen what changed."""

    data_changed = Signal(object)  # Changes
    # What ends the session when its account was disabled (the main window: the lock screen, with the line saying
    # why). None (a dialog with its own Ops): the refusal is shown like any other.
    on_session_end: Callable[[CrfError], None] | None = None

    def run(self, fn: Callable[[], T], *, parent: QWidget | None = None, title: str = "",
            on_error: ErrorHandler | None = None) -> T | None:
        """Run a short write now. Returns its result, or None when it was refused (already shown)."""
        try:
            result = fn()
        except CrfError as exc:
            self.refused(exc, parent=parent, title=title, on_error=on_error)
            return None
        self.announce(changes_of(result))
        return result

    def refused(self, exc: CrfError, *, parent: QWidget | None = None, title: str = "",
                on_error: ErrorHandler | None = None) -> None:
        """Show a refusal: on the screen's own line (``on_error``) or in a message; a disabled account's refusal also
        ends the session (then the lock screen says why, and no message box is needed)."""
        ending = self.on_session_end if ends_session(exc) else None
        if on_error is not None:
            on_error(exc)
        elif ending is None:
            show_error(parent, title, exc)
        if ending is not None:
            ending(exc)

    @contextlib.contextmanager
    def guard(self, parent: QWidget | None = None, title: str = "") -> Iterator[None]:
        """For what a screen calls on the services directly (opening a window reads its data): a refusal is shown
        as ``run`` shows it, instead of leaving the slot as a traceback and the click doing nothing."""
        try:
            yield
        except CrfError as exc:
            self.refused(exc, parent=parent, title=title)

    def announce(self, changes: Changes) -> None:
        """Tell every screen about a change (a write's record)."""
        if changes:
            self.data_changed.emit(changes)

    def background(self, fn: Callable[[], T], *, on_done: Callable[[T], None],
                   on_error: Callable[[BaseException], None]) -> None:
        """Run long work off the UI thread; callbacks and the change signal come back on the UI thread."""

        def done(result: Any) -> None:
            self.announce(changes_of(result))
            on_done(result)

        def failed(exc: BaseException) -> None:
            on_error(exc)
            if ends_session(exc) and self.on_session_end is not None:
                assert isinstance(exc, CrfError)
                self.on_session_end(exc)

        run_in_background(fn, done, failed)
