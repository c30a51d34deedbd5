"""Operations: the one way the screens run a write (as Anki's ``aqt.operations`` do).

``Ops.run`` calls a service write, shows a refusal the same way everywhere (one clear line naming the field and
the rule, in the user's language; never a traceback), and emits ``data_changed`` with the write's change record,
so that every open screen decides from it what to redraw. ``Ops.background`` does the same off the UI thread for
long work, with progress and cancel. Screens never redraw "by hand" after someone else's write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from msc_sle_crf.errors import CrfError
from msc_sle_crf.services.changes import Changes, changes_of
from msc_sle_crf.ui.common import error_text, run_in_background

T = TypeVar("T")

# What a screen does with a refusal instead of the standard message box (show it inline, revert a field...).
ErrorHandler = Callable[[CrfError], None]


def show_error(parent: QWidget | None, title: str, exc: BaseException) -> None:
    """A refusal or failure as one clear message (an unexpected error gets an incident number, logged)."""
    QMessageBox.warning(parent, title, error_text(exc))


class Ops(QObject):
    """Runs the writes of one main window and tells every screen what changed."""

    data_changed = Signal(object)  # Changes

    def run(self, fn: Callable[[], T], *, parent: QWidget | None = None, title: str = "",
            on_error: ErrorHandler | None = None) -> T | None:
        """Run a short write now. Returns its result, or None when it was refused (already shown)."""
        try:
            result = fn()
        except CrfError as exc:
            if on_error is not None:
                on_error(exc)
            else:
                show_error(parent, title, exc)
            return None
        self.announce(changes_of(result))
        return result

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

        run_in_background(fn, done, on_error)
