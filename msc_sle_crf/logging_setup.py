"""Logging that never records trial data: only event names, error types and tracebacks of internal errors.

Service code does not log values; SQLAlchemy runs with hide_parameters=True so driver errors carry no data.
"""

from __future__ import annotations

import logging
import threading
import traceback

from msc_sle_crf.locations import log_dir

# Libraries that log what they find in the files they read (a certificate's names, a path) with tracebacks: their
# records would reach stderr through Python's last-resort handler (a 14-line traceback before the one clear line) or
# the log with names in it. The program reports their outcome itself, in one line.
QUIET_LIBRARIES = ("pyhanko", "pyhanko_certvalidator", "fontTools", "PIL")


def quiet_libraries() -> None:
    for name in QUIET_LIBRARIES:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
        logger.propagate = False


FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _log_file() -> logging.Handler:
    """The rotating log file (1 MB, 3 kept), or nothing when its folder cannot be made."""
    import logging.handlers

    try:
        directory = log_dir()
        directory.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            directory / "msc-sle-crf.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    return handler


class LogFile(logging.Handler):
    """The log file, opened at the first record (most runs write none: the program starts without loading
    ``logging.handlers`` and its imports, ~10 ms before the sign-in window)."""

    def __init__(self) -> None:
        super().__init__()
        self._file: logging.Handler | None = None
        self._opening = threading.Lock()

    def target(self) -> logging.Handler:
        with self._opening:
            if self._file is None:
                self._file = _log_file()
            return self._file

    def emit(self, record: logging.LogRecord) -> None:
        self.target().handle(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        super().close()


def configure() -> None:
    quiet_libraries()
    root = logging.getLogger("msc_sle_crf")
    if root.handlers:
        return
    root.setLevel(logging.INFO)
    root.addHandler(LogFile())
    root.propagate = False


def log_incident(exc: BaseException) -> str:
    """Log an unexpected error under a new incident id; returns the id to show the user."""
    import uuid

    incident = uuid.uuid4().hex[:8]
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=30, chain=False))
    # Exception messages can quote values; keep the frames and the type only.
    frames = [line for line in tb.splitlines() if line.startswith("  File ")]
    logging.getLogger("msc_sle_crf").error("incident %s: %s\n%s", incident, type(exc).__name__, "\n".join(frames))
    return incident
