"""Real-window tests: each scenario runs the application in a subprocess on a virtual X display (Xvfb) with a window
manager (openbox), at a laptop's screen size, driven with real key and mouse events (xdotool). The offscreen test
process cannot show a real window (Qt's platform is chosen once per process).

``run_scenario(module, lang=..., size=...)`` starts the display, runs ``python -m <module>`` in it and returns the
results the scenario printed; the screenshots go to a folder printed by the test (and kept after the run).
Without Xvfb, openbox and xdotool the tests are skipped, except on CI (``CI`` set), where they fail: ``.ci/run``
installs them (packaging/apt-packages.txt).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("Xvfb", "openbox", "xdotool")
# One folder per checkout: two checkouts' suites running at once (a clean clone beside the working tree) must not
# remove each other's screenshots (seen: a scenario failed when the other run cleared the shared folder).
_CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
SHOTS = Path(os.environ.get("MSC_SLE_CRF_SHOTS",
                            Path(tempfile.gettempdir()) / f"msc-sle-crf-realwin-{_CHECKOUT}"))


@contextmanager
def virtual_display(size: str) -> Iterator[str]:
    """An X server of ``size`` (``1280x800``) with a window manager; yields its DISPLAY."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"real-window tests need {', '.join(missing)} (packaging/apt-packages.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Xvfb picks a free display number itself and writes it to a pipe (-displayfd): runs in parallel (other
    # engineers, CI jobs) never race for the same number, as checking /tmp/.X*-lock first did.
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_end,))
    os.close(write_end)
    wm = None
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number.isdigit():
            raise RuntimeError("Xvfb did not start (no display number)")
        display = f":{number}"
        socket = Path(f"/tmp/.X11-unix/X{number}")
        deadline = time.monotonic() + 10
        while not socket.exists():
            if time.monotonic() > deadline or xvfb.poll() is not None:
                raise RuntimeError(f"Xvfb did not start on {display}")
            time.sleep(0.05)
        env = {**os.environ, "DISPLAY": display}
        wm = subprocess.Popen(["openbox", "--sm-disable"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        time.sleep(0.8)  # the window manager takes the screen
        yield display
    finally:
        for process in (wm, xvfb):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()


Runner = Callable[..., dict[str, Any]]


@pytest.fixture
def run_scenario(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run a scenario module on a virtual display; print where its screenshots are; return its results."""

    def run(module: str, *, lang: str, size: str, timeout: float = 600, **args: str) -> dict[str, Any]:
        shots = SHOTS / f"{module.rsplit('.', 1)[-1]}-{lang}-{size}"
        if shots.exists():
            shutil.rmtree(shots)
        with virtual_display(size) as display:
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "MSC_SLE_CRF_LANG": lang}
            command = [sys.executable, "-m", module, "--shots", str(shots), "--lang", lang, "--size", size]
            for key, value in args.items():
                command += [f"--{key.replace('_', '-')}", value]
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        with capsys.disabled():
            print(f"\n[real window] {module} ({lang}, {size}): screenshots in {shots}")
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        assert done.returncode == 0 and lines, (
            f"scenario failed (exit {done.returncode}); screenshots in {shots}\n"
            f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-6000:]}")
        results: dict[str, Any] = json.loads(lines[-1][len("RESULT "):])
        results["shots"] = str(shots)
        return results

    return run
