"""Issue 18, hole 2: an electronic signature row's own Ed25519 signature was checked by ``verify`` but not at packet
import. The replay at import compares what the trail says of a signature (subject, visit, form, meaning, content
hash, signer, role), not the row's signature nor the columns only it covers (the printed name, the time): a nurse
with her password and a workstation's packet edits the row (another printed name, a backdated time, a signature that
is not the signer's, or none), signs the manifest with her own key, and WS-01 applied it; only a later ``verify``
named it. Now the import checks each signature row it brings as ``verify`` does and refuses the packet in one line
naming the packet, the form and the signer (hub ingest uses the same import: tests/test_hub_signature_rows.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf.errors import Msg
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.sync import packets as P

from .helpers.packets import CREAT, PW, R2, Pair, make_pair
from .test_issue18_packets import refused, repack, snapshot, verify_clean


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return make_pair(tmp_path)


def signed_on_b(pair: Pair) -> Path:
    """dr.a completes and signs 01-002's renal function form on WS-02; WS-02's packet."""
    site, ws = pair.open("B")
    with site:
        pair.clock.advance(30)
        ws.entry.save_item(R2, CREAT, "95", reason="second sample")
        ws.entry.mark_complete(R2)
        ws.lifecycle.sign(R2, "dr.a", PW["dr.a"], "approval")
        assert [s.valid for s in ws.lifecycle.signatures(R2)] == [True]
    path = pair.export("B")
    assert path is not None
    return path


def _edit_signature(**change: Any) -> Any:
    def mutate(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any) -> None:
        manifest["username"] = "nurse.n"  # the manifest signed with her own key
        [row] = rows["signatures"]
        row.update(change)
    return mutate


EDITS = {
    "a signature that is not his": {"sig": base64.b64encode(bytes(range(64))).decode()},
    "another printed name": {"printed_name": "Dr Someone Else"},
    "a backdated time": {"signed_utc": "2026-01-01T08:00:00.000000Z"},
    "no signature at all": {"sig": None},
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_signature_row_edited_in_a_packet_is_refused_at_import(pair: Pair, tmp_path: Path, edit: str) -> None:
    genuine = signed_on_b(pair)
    forged = tmp_path / f"{edit}.crfpkt"
    forged.write_bytes(repack(pair, genuine.read_bytes(), "nurse.n", _edit_signature(**EDITS[edit])))
    # Before: applied ("applied: N record(s)"); WS-01 then showed the form signed by dr.a, and only verify said the
    # signature was not his.
    line = refused(pair, "A", forged)
    assert forged.name in line and "subject 01-002 / visit SCR / form renal_function" in line \
        and "in the name of 'dr.a' that is not dr.a's own" in line, line
    assert snapshot(pair, "A")["signatures"] == []
    assert pair.import_("A", genuine).copied > 0  # the genuine packet still applies, and verifies
    verify_clean(pair, "A")


def test_the_refusal_is_one_line_in_french_too(pair: Pair, tmp_path: Path) -> None:
    genuine = signed_on_b(pair)
    forged = tmp_path / "forged.crfpkt"
    forged.write_bytes(repack(pair, genuine.read_bytes(), "nurse.n",
                              _edit_signature(printed_name="Dr Someone Else")))
    set_lang(Lang.FR)
    try:
        with pytest.raises(P.PacketRefused) as info:
            pair.import_("A", forged)
        line = info.value.message()
    finally:
        set_lang(Lang.EN)
    assert info.value.msg is Msg.PACKET_SIGNATURE_FORGED
    assert line.startswith("Paquet refusé : ") and "\n" not in line
    assert "forged.crfpkt" in line and "patient 01-002 / visite SCR / formulaire renal_function" in line \
        and "« dr.a »" in line, line


def test_a_genuine_signature_travels_and_verifies_both_ways(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    genuine = signed_on_b(pair)
    reads = []
    real = P.directory_of_session
    monkeypatch.setattr(P, "directory_of_session", lambda *a, **k: reads.append(1) or real(*a, **k))
    assert pair.import_("A", genuine).copied > 0
    assert len(reads) == 1  # the import's own key directory sufficed: the trail was not scanned a second time
    site, ws = pair.open("A")
    with site:
        assert [(s.username, s.valid) for s in ws.lifecycle.signatures(R2)] == [("dr.a", True)]
    verify_clean(pair, "A")
    verify_clean(pair, "B")
