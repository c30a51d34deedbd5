"""Logging that never records trial data: only event names, error types and tracebacks of internal errors.

Service code does not log values; SQLAlchemy runs with hide_parameters=True so driver errors carry no data.
"""

from __future__ import annotations

import logging
import logging.handlers
import traceback
import uuid

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


def configure() -> None:
    quiet_libraries()
    root = logging.getLogger("msc_sle_crf")
    if root.handlers:
        return
    root.setLevel(logging.INFO)
    try:
        directory = log_dir()
        directory.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            directory / "msc-sle-crf.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.propagate = False


def log_incident(exc: BaseException) -> str:
    """Log an unexpected error under a new incident id; returns the id to show the user."""
    incident = uuid.uuid4().hex[:8]
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=30, chain=False))
    # Exception messages can quote values; keep the frames and the type only.
    frames = [line for line in tb.splitlines() if line.startswith("  File ")]
    logging.getLogger("msc_sle_crf").error("incident %s: %s\n%s", incident, type(exc).__name__, "\n".join(frames))
    return incident
