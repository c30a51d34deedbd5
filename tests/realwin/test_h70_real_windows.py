"""h70 in real windows (Xvfb + openbox, xdotool), at both laptop sizes and in both languages: finding 4 (the sign-in
window says which laptop this database is). The status bar's lines are recorded (screenshots) but not asserted whole:
with the check's result, TRAINING and the backups warning, a 1280-pixel-wide window still cuts the site's name or
the warning (left open, see the h70 report)."""

from __future__ import annotations

import pytest

from .conftest import Runner

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("lang", "size"), [("fr", "1366x768"), ("en", "1280x800")])
def test_which_laptop_and_the_site_line(run_scenario: Runner, lang: str, size: str) -> None:
    r = run_scenario("tests.realwin.scenario_h70_status", lang=lang, size=size)
    # Fails on main: "Protocole ... — Hôpital Saint-Louis, Paris" (no workstation) on both sign-ins.
    assert "WS-02" in r["subtitle_again"], r
    _site_line, shown = r["status"]["status_site"]
    assert "WS-02" in shown, r  # the laptop first on the site's line, never cut
