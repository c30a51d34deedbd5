"""Issue 18, hole 2 on the hub: ``hub ingest`` takes the same import, so a packet whose electronic signature row
was edited by an insider (another printed name, a signature that is not the signer's) is refused in one line naming
the packet, the form and the signer, nothing applied, and the genuine packet is ingested and verifies. Real
PostgreSQL (tests/hub_pg.py), real packet files re-signed and re-encrypted as the nurse can."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.verify import verify_hub

from .conftest import ADMIN_PW
from .helpers.packets import make_pair
from .hub_pg import APP_ROLE, HubDb
from .test_hub_packet_rows import _ingest
from .test_issue18_packets import repack
from .test_issue18_signature_rows import _edit_signature, signed_on_b


def test_hub_ingest_refuses_an_edited_signature_row_and_takes_the_genuine_one(
        hub_db: HubDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pair = make_pair(tmp_path)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=pair.clock)
    keys = hub_dir / "hub.keys"
    genuine = signed_on_b(pair)
    for label, change in (("printed-name", {"printed_name": "Dr Someone Else"}),
                          ("not-his", {"sig": base64.b64encode(bytes(64)).decode()})):
        forged = tmp_path / f"{label}.crfpkt"
        forged.write_bytes(repack(pair, genuine.read_bytes(), "nurse.n", _edit_signature(**change)))
        code, said = _ingest(hub_db, keys, forged, monkeypatch, capsys)
        # Before: ingested ("applied"); only hub verify said the signature was not dr.a's.
        assert code != 0 and "Traceback" not in said, (label, said)
        assert f"Packet refused: {forged.name} brings an electronic signature of subject 01-002 / visit SCR / form " \
               "renal_function in the name of 'dr.a' that is not dr.a's own" in said, (label, said)
        with hub_db.connect() as conn:
            assert conn.execute("SELECT count(*) FROM signature").fetchone() == (0,)
    code, said = _ingest(hub_db, keys, genuine, monkeypatch, capsys)
    assert code == 0, said
    with hub_db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM signature").fetchone() == (1,)
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.unexplained)
