"""Small shared pieces of the Qt UI: bilingual text, background work, styles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from msc_sle_crf.errors import CrfError, Msg
from msc_sle_crf.i18n import Lang, current_lang
from msc_sle_crf.status import FormStatus

W = TypeVar("W", bound=QObject)


def named(widget: W, name: str) -> W:
    """A widget with its object name (style sheets and tests find it by name): ``named(QLabel(), "title")``."""
    widget.setObjectName(name)
    return widget


def tr(en: str, fr: str) -> str:
    """The UI's bilingual text: the current language's version."""
    return fr if current_lang() is Lang.FR else en


def error_text(exc: BaseException) -> str:
    if isinstance(exc, CrfError):
        return exc.message()
    from msc_sle_crf import logging_setup

    return Msg.INTERNAL.render(incident=logging_setup.log_incident(exc))


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    """The work of one background call, run on the pool's thread. Nothing the UI thread made may die there: when the
    pool deleted the job, the last reference to what ``fn`` captured (a threading.Event whose ``set`` was connected to
    a progress dialog's Cancel) went with it, and PySide's clean-up disconnected that slot from the pool's thread —
    taking the dialog's connection lock and then waiting for the GIL, while the UI thread held the GIL and waited for
    that lock to close the dialog (a deadlock: test_backups_ui hung about one run in two; native stacks seen with gdb).
    So the job keeps no reference of its own: ``fn`` and the signals live in ``_live`` until the UI thread releases
    them, after the result arrived."""

    def __init__(self, key: int) -> None:
        super().__init__()
        self.key = key

    def run(self) -> None:
        fn, signals = _live[self.key]
        try:
            try:
                result = fn()
            except BaseException as exc:
                signals.failed.emit(exc)
            else:
                signals.done.emit(result)
        except RuntimeError:  # "Signal source has been deleted": the program quit while the job ran (h59 saw it
            pass  # once at a quit during sign-in); nobody is left to tell, and the work's own writes are atomic
        del fn, signals  # the entries in _live are still there: these are not the last references


_live: dict[int, tuple[Callable[[], Any], _Signals]] = {}
_next_key = [0]


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_error: Callable[[BaseException], None]) -> None:
    """Run ``fn`` off the UI thread; the callbacks run on the UI thread."""
    signals = _Signals()
    _next_key[0] += 1
    key = _next_key[0]
    _live[key] = (fn, signals)

    def release() -> None:  # on the UI thread, once the pool's thread has surely returned from the job
        QTimer.singleShot(2000, lambda: _live.pop(key, None))

    def finished_ok(result: Any) -> None:
        release()
        on_done(result)

    def finished_bad(exc: BaseException) -> None:
        release()
        on_error(exc)

    signals.done.connect(finished_ok)
    signals.failed.connect(finished_bad)
    QThreadPool.globalInstance().start(_Job(key))


# How each form state looks (its words come from ``FormStatus.label``).
STATUS_COLOURS: dict[FormStatus, str] = {
    FormStatus.NOT_STARTED: "#7b8794", FormStatus.DRAFT: "#1f5fa8", FormStatus.COMPLETE: "#2e7d32",
    FormStatus.VERIFIED: "#00796b", FormStatus.SIGNED: "#5e35b1", FormStatus.LOCKED: "#37474f",
}


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(FormStatus.of(status), "#7b8794")


STYLE = """
QWidget { font-size: 11pt; }
QLineEdit, QComboBox, QSpinBox { min-height: 34px; padding: 2px 8px; }
QPushButton { min-height: 36px; padding: 4px 18px; }
QPushButton#primary { background: #1f5fa8; color: white; border-radius: 4px; font-weight: bold; }
QPushButton#primary:disabled { background: #8aa7c8; }
QLabel#title { font-size: 20pt; font-weight: bold; color: #1d2b3a; }
QLabel#subtitle { color: #4a5b6c; }
QLabel#error { color: #b00020; font-weight: bold; }
QLabel#training { background: #c62828; color: white; font-weight: bold; padding: 4px 10px; border-radius: 3px; }
QFrame#card { background: white; border: 1px solid #d5dbe1; border-radius: 8px; }
"""

__all__ = ["STATUS_COLOURS", "STYLE", "error_text", "named", "run_in_background", "status_colour", "tr"]
