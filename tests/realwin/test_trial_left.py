"""The new administrator's trial in a real window (Xvfb + openbox, real keys and clicks), en and fr, 1280x800 and
1366x768: a Disable made while the check after sign-in still reads the database, and the status bar's lines. The
scenario is ``scenario_trial_left``; its screenshots are kept in the folder printed by the test."""

from __future__ import annotations

import pytest

from .conftest import Runner

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("size", ["1280x800", "1366x768"])
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_disable_during_the_check_and_the_status_bar(run_scenario: Runner, lang: str, size: str) -> None:
    r = run_scenario("tests.realwin.scenario_trial_left", lang=lang, size=size)
    # Before: "Database check not completed: file is not a database" (the re-key ran under the check).
    assert r["rekey_waited_for_the_check"]
    assert r["check_state"] == "done", r["check_text"]
    assert r["check_text"].startswith({"en": "✓ Database intact", "fr": "✓ Base intacte"}[lang])
    assert {"en": "Checked again on the new key", "fr": "Contrôlée à nouveau"}[lang] in r["check_tooltip"]
    # Before: the bar's lines were cut at 1280 px (a label never shrank below its whole text).
    assert r["fits_screen"]
    names = {label["name"] for label in r["labels"]}
    assert {"status_user", "status_site", "integrity", "backup_status", "training"} <= names, names
    for label in r["labels"]:
        assert label["left"] >= 0 and label["right"] < r["window_width"], label
        assert label["fits"], label
        least = 1 if label["name"] == "integrity" else 8  # the check's good news gives way down to its tick (h70)
        assert label["shown"] == label["text"] or (label["shown"].endswith("…") and len(label["shown"]) > least), label
    whole = {label["name"]: label["shown"] == label["text"] for label in r["labels"]}
    assert whole["status_site"] and whole["backup_status"] and whole["training"], r["labels"]
