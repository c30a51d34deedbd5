"""An administrator's Disable in a real window (Xvfb + openbox, real key and mouse events): the reason is typed with
the keyboard as the dialog opens, and after the re-key a menu still opens. The scenario is
``scenario_disable_menus``; its screenshots are kept in the folder printed by the test."""

from __future__ import annotations

import pytest

from .conftest import Runner

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_disable_typed_with_the_keyboard_leaves_the_menus_working(run_scenario: Runner, lang: str) -> None:
    r = run_scenario("tests.realwin.scenario_disable_menus", lang=lang, size="1280x800")
    assert r["focus_in_reason"] and r["reason_typed"] == "left the unit" and r["error_while_typing"] == ""
    assert "dr.martin" in r["status"]
    assert not r["modal_left"] and r["progress_dialogs_left"] == 0
    assert r["menu_open"]
