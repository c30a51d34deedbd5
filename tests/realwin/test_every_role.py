"""Every role's first day in a real window (Xvfb + openbox, real key and mouse events), in English and French at
1280 x 800 (and English at 1366 x 768): the administrator's accounts screen (add, reset), a new account's first
sign-in with its one-time password, the nurse's search, the physician's SLEDAI + BILAG signed after a wrong password.
The scenario is ``scenario_every_role``; its screenshots are kept in the folder printed by each test."""

from __future__ import annotations

import pytest

from .conftest import Runner

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("lang", "size"), [("fr", "1280x800"), ("en", "1280x800"), ("en", "1366x768")])
def test_every_roles_first_day(run_scenario: Runner, lang: str, size: str) -> None:
    r = run_scenario("tests.realwin.scenario_every_role", lang=lang, size=size)
    fr = lang == "fr"
    assert r["lang_ok"], r["admin_heading"]
    assert r["fits"] == dict.fromkeys(r["fits"], True) and len(r["fits"]) == 6, r["fits"]
    # The administrator: roles by their names; a refusal is one line and keeps what was typed; reset asks first.
    assert set(r["roles_shown"]) >= ({"Administrateur", "Investigateur", "Moniteur (ARC)"} if fr else
                                     {"Administrator", "Investigator", "Research nurse", "Monitor"})
    assert r["add_refused"].startswith("Nom d'utilisateur : 3 à 32" if fr else "User name: 3 to 32")
    assert r["add_kept"] == "Lea Leroy"
    assert "dr.martin" in r["reset_question"] and r["otps_differ"]
    assert r["doctor_state"] == ("Actif : mot de passe à usage unique, pas encore changé" if fr else
                                 "Active: one-time password, not yet changed")
    # First sign-in: the rules as one types, then the app.
    assert ("✗  Difficile à deviner" if fr else "✗  Hard to guess") in r["nurse_weak_rules"]
    assert r["search_htg"] == ["99-006"] and r["count_line"].startswith("1 sur" if fr else "1 of")
    # The physician: scores, a wrong password keeps the dialog and the user name, then the signature.
    assert "SELENA-SLEDAI" in r["sledai_score"] and "BILAG" in r["bilag_score"]
    assert r["sign_error"].startswith("Échec" if fr else "Sign-in failed") and "\n" not in r["sign_error"]
    assert r["sign_kept"] == [True, "dr.martin", ""]
    assert ("Signé" if fr else "Signed") in r["signature"]
    assert r["history_whole"]
