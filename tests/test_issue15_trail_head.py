"""Item 8: acknowledged writes lost with damaged WAL frames after a crash are made visible: the trail head kept
outside the WAL shows that the trail ends too early; the next sign-in writes that into the trail and verify fails
with "writes after HH:MM may have been lost"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from msc_sle_crf.security.keyslots import KeySlotFile
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store import head

from .conftest import ADMIN_PW, make_user
from .issue15_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
FRAME = 24 + 4096  # WAL frame header + one page


def _crash_after(db: Path, password: str, interval: float, count: int) -> list[str]:
    child = subprocess.Popen([sys.executable, "-m", "tests.helpers.head_writer", str(db), "dr.h", password,
                              str(interval), str(count)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    assert child.stdout is not None
    committed = []
    for line in child.stdout:
        if line.startswith("committed"):
            committed.append(line.split()[1])
        if line.startswith("idle"):
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert len(committed) == count, child.stderr.read() if child.stderr else ""
    return committed


def _damage_last_frames(db: Path, frames: int) -> None:
    wal = Path(f"{db}-wal")
    size = wal.stat().st_size
    assert size > 32 + frames * FRAME, size
    with open(wal, "r+b") as fh:  # flip one byte in the payload of a frame near the end: its checksum fails
        offset = size - frames * FRAME + 24 + 100
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture
def doctor_site(db_path: Path, site: Site, admin: Workspace) -> str:
    password = make_user(admin, "dr.h", "investigator")
    site.close()
    return password


@pytest.mark.slow
def test_damaged_wal_frames_after_a_crash_are_reported(db_path: Path, doctor_site: str) -> None:
    committed = _crash_after(db_path, doctor_site, 0.0, 30)
    recorded = head.read(db_path, KeySlotFile.load(KeySlotFile.path_for(db_path)).db_id)
    _damage_last_frames(db_path, 12)
    site = Site.open(db_path)
    ws = Workspace.sign_in(site, "admin", ADMIN_PW)
    doctor = Workspace.sign_in(site, "dr.h", doctor_site)
    present = [s.subject_number for s in doctor.subjects.list()]
    missing = [n for n in committed if n not in present]
    assert missing, "the damage should have removed acknowledged writes"
    report = ws.integrity.verify()
    assert not report.ok and report.audit.ok  # the chain over what remains holds: only the head tells
    [message] = report.loss_messages()
    assert message.startswith("Writes after ") and "may have been lost" in message
    assert recorded is not None and f"record #{recorded.record_id}" in message
    site.close()
    # the command a user runs says so too, on stderr, with a failing exit status; and it stays visible
    for _ in range(2):
        run = run_cli("verify", "--db", str(db_path), "--user", "admin", "--password-stdin", stdin=f"{ADMIN_PW}\n")
        assert run.code == 6 and "may have been lost" in run.err, run.err
    print(f"\n[issue15] WAL damage: {len(missing)} acknowledged writes lost, reported by verify")


@pytest.mark.slow
def test_a_clean_crash_verifies(db_path: Path, doctor_site: str) -> None:
    committed = _crash_after(db_path, doctor_site, 0.0, 10)
    site = Site.open(db_path)
    ws = Workspace.sign_in(site, "dr.h", doctor_site)
    assert [s.subject_number for s in ws.subjects.list()] == committed
    assert Workspace.sign_in(site, "admin", ADMIN_PW).integrity.verify().ok
    site.close()


def test_the_head_file_survives_a_torn_slot_and_holds_no_trial_data(db_path: Path, site: Site,
                                                                     admin: Workspace) -> None:
    admin.settings.set("site_name", "Hôpital Test")
    site.flush_head()
    site.anchor_audit()
    path = head.path_for(db_path)
    first = head.read(db_path, site.keyfile.db_id)
    assert first is not None and b"H\xc3\xb4pital" not in path.read_bytes()
    admin.settings.set("site_name", "Hôpital Test 2")
    site.anchor_audit()
    second = head.read(db_path, site.keyfile.db_id)
    assert second is not None and second.record_id > first.record_id
    data = bytearray(path.read_bytes())  # tear the newest slot: the other one is still read
    slot = (second.seq % 2) * head.SLOT_BYTES
    data[slot + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert head.read(db_path, site.keyfile.db_id) == first
