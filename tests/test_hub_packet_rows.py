"""The hub's ingest takes the same packet path (attack report findings 2 and 6): a packet whose rows.json brings a
conflict row no record opened, or rows about a subject none of its records name, is refused by ``hub ingest`` in
one line, nothing applied; a conflict row planted on the hub with raw SQL is named by ``hub verify``. Real
PostgreSQL (tests/hub_pg.py), real packet files re-signed and re-encrypted as the nurse can."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from msc_sle_crf.cli import main
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.verify import verify_hub

from .conftest import ADMIN_PW
from .helpers.packets import CREAT, PW, make_pair
from .hub_pg import APP_ROLE, HubDb
from .test_issue18_packets import edit_b, repack


def _side(ws: str, text: str) -> str:
    return json.dumps({"text": text, "user": "dr.a", "ws": ws, "id": 1, "utc": "2026-01-01T00:00:00Z"})


def _conflict(iid: int) -> dict[str, Any]:
    return {"id": 1_010_000_777, "instance_id": iid, "group_id": CREAT[0], "row_no": CREAT[1], "item_id": CREAT[2],
            "kept": _side("WS-01", "1"), "other": _side("WS-02", "2"), "status": "open",
            "opened_utc": "2026-01-01T00:00:00Z", "resolved_utc": None}


def _ingest(hub_db: HubDb, keys: Path, packet: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    monkeypatch.setattr("sys.stdin", io.StringIO(PW["dr.a"] + "\n"))
    code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "dr.a",
                 "--password-stdin", str(packet)])
    out, err = capsys.readouterr()
    return code, out + err


def test_hub_refuses_unexplained_rows_and_verify_names_a_planted_conflict(
        hub_db: HubDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pair = make_pair(tmp_path)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir,
             APP_ROLE, clock=pair.clock)
    keys = hub_dir / "hub.keys"
    genuine = edit_b(pair, "95")
    plants = {
        "a conflict row": lambda rows: rows["conflicts"].append(_conflict(rows["values"][0]["instance_id"])),
        "a new subject": lambda rows: rows["subjects"].append({
            "subject_number": "01-250", "initials": "XX", "birth_year": 1980, "sex": "F", "status": "screening",
            "created_utc": "2026-01-01T00:00:00Z", "owner_ws": "WS-02", "created_by": "dr.a"}),
    }
    for label, add in plants.items():
        def mutate(manifest: dict[str, Any], _records: Any, rows: Any, _signer: Any, add: Any = add) -> None:
            manifest["username"] = "nurse.n"
            add(rows)

        forged = tmp_path / f"{label}.crfpkt"
        forged.write_bytes(repack(pair, genuine.read_bytes(), "nurse.n", mutate))
        code, said = _ingest(hub_db, keys, forged, monkeypatch, capsys)
        assert code != 0 and "Packet refused" in said and "Traceback" not in said, (label, said)
        assert ("not in the trail" if label == "a conflict row" else "a subject row about subject 01-250") in said
    code, said = _ingest(hub_db, keys, genuine, monkeypatch, capsys)
    assert code == 0, said
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, (report.audit.problem, report.unexplained)
    with hub_db.connect() as conn:  # someone with the owner's password plants a conflict: it voids signatures
        [(iid,)] = conn.execute("SELECT i.id FROM form_instance i JOIN subject s ON s.id = i.subject_id "
                                "WHERE s.subject_number = '01-002'").fetchall()
        c = _conflict(iid)
        conn.execute("INSERT INTO item_conflict (id, instance_id, group_id, row_no, item_id, kept, other, status, "
                     "opened_utc) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     [c[k] for k in ("id", "instance_id", "group_id", "row_no", "item_id", "kept", "other", "status",
                                     "opened_utc")])
    report = verify_hub(hub_db.app_dsn(), keys)
    assert not report.ok
    assert any("conflict #1010000777" in str(u) for u in report.unexplained), report.unexplained


