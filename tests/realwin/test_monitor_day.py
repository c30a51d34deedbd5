"""The monitor's query round trip from the worklist in a real window (Xvfb + openbox, real key and mouse events), in
French and English at 1280 x 800. The scenario is ``scenario_monitor_queries``; its screenshots are kept in the
folder printed by each test."""

from __future__ import annotations

import pytest

from .conftest import Runner

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("lang", "size"), [("fr", "1280x800"), ("en", "1280x800")])
def test_the_monitors_query_round_trip(run_scenario: Runner, lang: str, size: str) -> None:
    r = run_scenario("tests.realwin.scenario_monitor_queries", lang=lang, size=size)
    fr = lang == "fr"
    assert r["fits"] == {"main": True, "worklist": True, "casebook": True}, r
    rows = {row[0]: row for row in r["rows_before"]}
    assert set(rows) == {"99-001", "99-002"}
    # who must act: the site for the open query, the monitor for the answered one
    assert rows["99-001"][4:6] == (["Répondue", "Moniteur"] if fr else ["Answered", "Monitor"])
    assert rows["99-002"][4:6] == (["Ouverte", "Site"] if fr else ["Open", "Site"])
    assert rows["99-001"][3] == ("Créatinine" if fr else "Creatinine")
    # the double-click opened the form at the item with its queries; the monitor closed it
    assert r["form_focus"] and "98 µmol/L" in r["query_text"]
    assert ("Close" if fr else "Closed") in r["query_after"]
    assert ("clôture" if fr else "closed") in r["query_after"]
    assert [row[0] for row in r["rows_after"]] == ["99-002"]
    # SDV: the question names the open query; Qt's own Yes button in the user's language; progress moved
    assert "Hb" in r["verify_question"] or ("Hémoglobine" if fr else "Haemoglobin") in r["verify_question"]
    assert ("encore ouverte" if fr else "still open") in r["verify_question"]
    assert r["yes_button"] == ("Oui" if fr else "Yes")
    before, after = (tuple(int(x) for x in text.split(" / ")) for text in (r["sdv_before"], r["sdv_after"]))
    assert before[0] == 0 and after[0] > 0 and after[1] == before[1]
    assert r["labs_marks_before"] == "1 query · SDV 0/" + str(after[0])
    assert r["labs_marks_after"] == "1 query · SDV " + f"{after[0]}/{after[0]} ✓"
