"""A small harness to drive the real application in a real window (X server, window manager, xcb platform), for
scenario scripts run in a subprocess by ``tests/realwin`` (Qt's platform cannot change inside the offscreen test
process).

The scenario runs inside the application's own process: it starts the app on a database, finds windows by title,
and sends real input through the X server with ``xdotool`` (XTEST: the events come from the X server as a person's
would, through the window manager's focus, shortcuts and all), then lets Qt process them. Screenshots of the whole
screen (window frames included) go to a folder, numbered in order.

    h = Harness(shots=Path(...), lang="fr")
    h.start_app(site, study)
    login = h.window("Sign in")                      # by a part of its title
    h.type("nurse.durand\\tpassword\\n")
    main = h.window("eCRF", cls=MainWindow)
    h.click(button); h.press("ctrl+l"); h.shot("locked")
    h.wait_until(lambda: ..., "what we wait for")
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QWidget

W = TypeVar("W", bound=QWidget)


class ScenarioFailed(AssertionError):
    pass


class Harness:
    def __init__(self, shots: Path, lang: str = "en", *, typing_delay_ms: int = 40) -> None:
        self.shots = shots
        self.shots.mkdir(parents=True, exist_ok=True)
        self.lang = lang
        self.typing_delay_ms = typing_delay_ms
        self.count = 0
        self.results: dict[str, Any] = {}
        self.app: QApplication | None = None
        self.shell: Any = None

    # ----- the application -----------------------------------------------------------------------------------------
    def start_app(self, site: Any, study: Any) -> Any:
        """The application as ``msc-sle-crf run`` starts it (style, language, sign-in window), on ``site``."""
        from msc_sle_crf.i18n import Lang, set_lang
        from msc_sle_crf.ui.app import App
        from msc_sle_crf.ui.common import STYLE

        set_lang(Lang(self.lang))
        existing = QApplication.instance()
        self.app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
        self.app.setStyle("Fusion")
        self.app.setStyleSheet(STYLE)
        from msc_sle_crf.ui import translation

        translation.install()  # Qt's own buttons and dialogs in the language, as run_gui does
        self.shell = App(site, study=study, idle_ms=10**9)
        self.shell.start()
        self.process(0.3)
        return self.shell

    def process(self, seconds: float = 0.05) -> None:
        """Let the application run for a while (events, timers, paints)."""
        end = time.monotonic() + seconds
        while True:
            QApplication.processEvents()
            if time.monotonic() >= end:
                return
            time.sleep(0.01)

    def wait_until(self, condition: Callable[[], object], what: str, timeout: float = 8.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            QApplication.processEvents()
            if condition():
                self.process(0.05)
                return
            time.sleep(0.02)
        self.shot("FAILED-" + what.replace(" ", "-")[:40])
        raise ScenarioFailed(f"timed out waiting for: {what}")

    def check(self, condition: object, what: str) -> None:
        if not condition:
            self.shot("FAILED-" + what.replace(" ", "-")[:40])
            raise ScenarioFailed(what)

    # ----- windows ---------------------------------------------------------------------------------------------------
    def windows(self) -> list[QWidget]:
        return [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.isWindow()]

    def window(self, title: str, cls: type[W] | None = None, timeout: float = 8.0) -> W:
        """The visible top-level window whose title contains ``title`` (and of class ``cls``)."""
        found: list[QWidget] = []

        def look() -> bool:
            found[:] = [w for w in self.windows() if title in w.windowTitle()
                        and (cls is None or isinstance(w, cls))]
            return bool(found)

        self.wait_until(look, f"a window titled '{title}'", timeout)
        return found[0]  # type: ignore[return-value]

    def activate(self, window: QWidget) -> None:
        """Bring a window to the front with the keyboard focus, through the window manager."""
        self._xdotool("windowactivate", "--sync", str(int(window.winId())))
        self.wait_until(lambda: QApplication.activeWindow() is window, f"'{window.windowTitle()}' active")

    # ----- input --------------------------------------------------------------------------------------------------
    def _xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, timeout=60)

    def type(self, text: str, delay_ms: int | None = None) -> float:
        """Type text into the focused widget (``\\t`` Tab, ``\\n`` Enter), key by key; returns the seconds it took."""
        start = time.monotonic()
        delay = str(self.typing_delay_ms if delay_ms is None else delay_ms)
        for part in _split_keys(text):
            if part in ("Tab", "Return"):
                self._xdotool("key", "--delay", delay, part)
            else:
                self._xdotool("type", "--delay", delay, part)
            self.process(0.01)
        self.process(0.05)
        return time.monotonic() - start

    def press(self, *keys: str) -> None:
        """Key combinations as xdotool names them: ``ctrl+l``, ``Return``, ``Escape``."""
        self._xdotool("key", *keys)
        self.process(0.1)

    def click(self, widget: QWidget, at: QPoint | None = None) -> None:
        """A real mouse click in the middle of a shown widget (or at a point of it)."""
        self.check(widget.isVisible(), f"{widget.objectName() or type(widget).__name__} is visible to click")
        where: QPoint = widget.mapToGlobal(at if at is not None else widget.rect().center())
        self._xdotool("mousemove", "--sync", str(where.x()), str(where.y()))
        self._xdotool("click", "1")
        self.process(0.15)

    def double_click(self, widget: QWidget, at: QPoint | None = None) -> None:
        """A real double click in the middle of a shown widget (or at a point of it)."""
        self.check(widget.isVisible(), f"{widget.objectName() or type(widget).__name__} is visible to click")
        where: QPoint = widget.mapToGlobal(at if at is not None else widget.rect().center())
        self._xdotool("mousemove", "--sync", str(where.x()), str(where.y()))
        self._xdotool("click", "--repeat", "2", "--delay", "80", "1")
        self.process(0.15)

    def fits(self, window: QWidget) -> bool:
        """The whole window, frame and title bar included, is on the screen."""
        screen = window.screen()
        return screen is not None and screen.availableGeometry().contains(window.frameGeometry())

    # ----- evidence -----------------------------------------------------------------------------------------------
    def shot(self, name: str) -> Path:
        """The whole screen as a person sees it (window frames included)."""
        self.process(0.15)
        self.count += 1
        path = self.shots / f"{self.count:02d}-{name}.png"
        if shutil.which("import"):
            subprocess.run(["import", "-window", "root", str(path)], check=True, timeout=60)
        else:
            screen = QApplication.primaryScreen()
            screen.grabWindow(0).save(str(path))
        return path

    def report(self) -> None:
        """The figures and facts the pytest side asserts on, as one JSON line on stdout."""
        print("RESULT " + json.dumps(self.results, ensure_ascii=False), flush=True)


def _split_keys(text: str) -> list[str]:
    parts: list[str] = []
    current = ""
    for char in text:
        if char in "\t\n":
            if current:
                parts.append(current)
                current = ""
            parts.append("Tab" if char == "\t" else "Return")
        else:
            current += char
    if current:
        parts.append(current)
    return parts


def keystrokes(text: str) -> int:
    """How many keys a person presses to type ``text`` (every character, Tab and Enter included)."""
    return len(text)
