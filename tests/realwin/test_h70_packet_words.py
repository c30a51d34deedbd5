"""h70, finding 2: the "not authentic" packet refusal was French with an English technical detail inside, as an
administrator saw it on the Packets screen: "Paquet refusé : PACKET-01-WS-01-00003.crfpkt n'est pas authentique (its
rows are not what its records say: subject 01-001 / visit SCR / form demographics / item WEIGHT / row dm:0: stored
'63'; the trail says '64') ; rien n'a été appliqué." The French line must be French from end to end and still name
what was found: where (patient / visite / formulaire / item / ligne), what is stored, what the trail says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf.errors import Msg
from msc_sle_crf.i18n import Lang
from msc_sle_crf.sync import packets as P
from msc_sle_crf.sync.refusal_words import in_french
from tests.helpers.packets import CREAT, Pair, make_pair
from tests.test_issue18_packets import edit_b, refused, repack

# English words the checks use: none may be left in the French line (outside the values, quoted « »; "query" is
# the French screens' word too).
ENGLISH = re.compile(r"\b(the|is|are|was|not|by|its|rows|records|say|says|stored|trail|missing|recorded|subject|"
                     r"visit|form|row|signed|key)\b")


def _outside_values(line: str) -> str:
    return re.sub(r"« [^»]* »", "", line)


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return make_pair(tmp_path)


def test_a_value_changed_in_rows_json_is_refused_in_french(pair: Pair, tmp_path: Path) -> None:
    genuine = edit_b(pair, "95").read_bytes()

    def rows_value(manifest: dict[str, Any], _records: list[dict[str, Any]], rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"  # an insider who edits rows.json and signs the manifest herself
        for v in rows["values"]:
            if v["item_id"] == CREAT[2] and v["value"] == "95":
                v["value"] = "999"

    forged = tmp_path / "forged.crfpkt"
    forged.write_bytes(repack(pair, genuine, "nurse.n", rows_value))
    english = refused(pair, "A", forged)
    assert "its rows are not what its records say" in english  # the English line is unchanged
    with pytest.raises(P.PacketRefused) as info:
        pair.import_("A", forged)
    french = info.value.message(Lang.FR)
    # Fails on main: "... n'est pas authentique (its rows are not what its records say: subject 01-002 / visit ... /
    # item CREAT / row lb:0: stored '999'; the trail says '95') ; rien n'a été appliqué."
    assert not ENGLISH.search(_outside_values(french)), french
    assert "patient 01-002" in french and "item CREAT" in french and "« 999 »" in french and "« 95 »" in french


@pytest.mark.parametrize("detail", [
    # the two lines of tests/realwin/test_h63_findings.py (finding 1), as the administrator saw them
    "its rows are not what its records say: subject 01-001 / visit SCR / form demographics / item WEIGHT / row dm:0: "
    "query #1000000055: 1 message(s) 'auto' by 'dr.bernard' as 'investigator' recorded in the trail are missing",
    "its rows are not what its records say: subject 01-001 / visit SCR / form demographics / item WEIGHT / row dm:0: "
    "stored '63'; the trail says '64'",
    "its rows are not what its records say: subject 01-001 / visit SCR / form demographics / row vs:2: the row is "
    "removed; the trail says present",
    "its rows are not what its records say: subject 01-001 / visit SCR / form demographics: its state is 'signed'; "
    "the trail says 'draft'",
    "its rows are not what its records say: subject 01-001: initials is 'ABC'; the trail says 'ABD'",
    "record #1234 was altered after it was written",
    "record #12 (a copy of WS-02 #7) is in the name of 'dr.a' but was signed by 'nurse.n'",
    "the manifest is not signed by dr.a's key bound in this trail",
    # tests/realwin/test_h59_findings.py, finding 1, as the administrator saw it
    "record #89: record #64 is a copy of WS-02 #51 whose signature is not ide.martin's (forged, or signed with a key "
    "WS-02 did not bind to ide.martin at that time, as far as its packets applied here tell)",
    "its rows are not what its records say: subject 01-001 / visit SCR / form demographics: something new a later "
    "check says about 'x'",  # a phrase the table does not know: still French, still naming where and what
])
def test_every_refusal_detail_reads_in_french(detail: str) -> None:
    line = Msg.PACKET_FORGED.render(Lang.FR, path="PACKET-01-WS-01-00003.crfpkt", detail=P.PacketRefused(
        Msg.PACKET_FORGED, path="p", detail=detail).params["detail"])
    assert not ENGLISH.search(_outside_values(line)), line
    for value in re.findall(r"(?<!\w)'([^']*)'(?!\w)", detail):
        assert f"« {value} »" in line or value == "investigator", line
    if "as 'investigator'" in detail:
        assert "en tant que « investigateur »" in line.lower(), line
    assert in_french(detail) in line
    if "subject 01-001" in detail:
        assert "patient 01-001" in line
