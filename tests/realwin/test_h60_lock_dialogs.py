"""h60, in a real window: Ctrl+L pressed in a form's Queries window, and what stays on screen once locked (the
offscreen twin of the second part is tests/test_h60_lock_dialogs.py)."""

from __future__ import annotations

import pytest

from .conftest import Runner

pytestmark = pytest.mark.slow


def test_ctrl_l_from_a_queries_window_locks_and_hides_it(run_scenario: Runner) -> None:
    r = run_scenario("tests.realwin.scenario_h60_lock_dialogs", lang="en", size="1280x800")
    assert r["ctrl_l_locked"], r  # README: "Ctrl+L locks the screen from any window"
    assert r["shown_when_locked"] == [], r
