"""The nurse's infusion day in a real window (Xvfb + openbox, real key and mouse events), in English and French, on a
1280 x 800 and a 1366 x 768 screen. The scenario is ``scenario_nurse_day``; its screenshots are kept in the folder
printed by each test."""

from __future__ import annotations

import pytest

from .conftest import Runner

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("lang", "size"), [("en", "1280x800"), ("fr", "1366x768"), ("fr", "1280x800"),
                                            ("en", "1366x768")])
def test_the_nurses_day(run_scenario: Runner, capsys: pytest.CaptureFixture[str], lang: str, size: str) -> None:
    r = run_scenario("tests.realwin.scenario_nurse_day", lang=lang, size=size)
    fr = lang == "fr"
    with capsys.disabled():
        print(f"[real window] figures: one vital-sign set {r['one_set']}; lock {r['lock_seconds']} s; "
              f"takeover to the physician's screen {r['takeover_seconds']} s")
    assert r["fits"] == {"main": True, "casebook": True, "bedside": True}, r
    # Refusals: Start said what was missing; an Enter after a reading did nothing else.
    assert r["start_refused_says"].startswith("Avant le début" if fr else "Before the start")
    assert r["enter_after_reading"] == "nothing"
    assert ("Démarrer la perfusion du patient 99-006 (HTG, 1995) maintenant, à 10:00" if fr else
            "Start the infusion for subject 99-006 (HTG, 1995) now, at 10:00") in r["start_question"]
    # Quick entry: for the due reading, saved under it; one set in at most 20 keystrokes.
    assert r["entry_title_at_15"].startswith("Mesure pour : 15 min après le début" if fr else
                                             "Reading for: 15 min after the start")
    assert r["one_set"]["timepoint"] == "T15" and r["one_set"]["keystrokes"] <= 20
    assert r["one_set"]["person_seconds"] <= 15 and r["one_set"]["enter_to_saved_seconds"] < 2
    assert r["abnormal_question"].count("• ") == 4  # fever, heart rate, systolic pressure, SpO2: one question
    assert r["flags"] == 4 and r["timepoints"] == ["BASE", "T15", "T30", "T45"]
    # Lock, takeover, return: the physician sees empty fields and their own name; the nurse gets her value back.
    assert r["lock_screen_line"].startswith("Patient 99-006" if fr else "Subject 99-006")
    assert r["physician_sees"]["temperature"] == "" and "Claire Martin" in r["physician_sees"]["who"]
    assert r["nurse_gets_back"] == "37,"
    # Stop asks first (focus on Cancel), can be undone, and the infusion went on.
    assert r["stop_focus_on_cancel"] and "99-006" in r["stop_question"]
    assert r["running_minutes"] == 52
    assert ("Échec de sélection" if fr else "Screening failure") in r["screen_failure_says"]
