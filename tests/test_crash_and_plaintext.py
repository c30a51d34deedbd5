"""A process killed mid-write loses nothing committed; no plaintext trial data reaches the disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msc_sle_crf.config import log_dir
from msc_sle_crf.security.keyslots import KeySlotFile
from msc_sle_crf.services import Services, Site

from .conftest import make_user

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sigkill_during_audited_writes_keeps_every_committed_write(db_path: Path, site: Site, admin: Services,
                                                                      clock) -> None:
    password = make_user(admin, "nurse.k", "nurse")
    site.close()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.writer", str(db_path), "nurse.k", password],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    committed: list[str] = []
    deadline = time.monotonic() + 60
    assert child.stdout is not None
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        if line.startswith("committed"):
            committed.append(line.split()[1])
            if len(committed) >= 40:
                break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert len(committed) >= 40, child.stderr.read() if child.stderr else ""

    reopened = Site.open(db_path, clock=clock)  # the OS released the dead process's lock
    services = Services.sign_in(reopened, "nurse.k", password)
    numbers = [s.subject_number for s in services.list_subjects()]
    assert numbers[: len(committed)] == committed  # every acknowledged write is there, in order
    doctor = Services.sign_in(reopened, "admin", "correct-horse-42")
    creations = {r.subject for r in doctor.audit_trail(limit=10_000) if r.action == "create"}
    assert set(numbers) == creations  # each subject has its audit record, and no record lacks its subject
    report = doctor.verify_integrity()
    assert report.ok, report
    reopened.close()


def _files_under(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def test_no_plaintext_of_trial_data_on_disk(db_path: Path, site: Site, admin: Services) -> None:
    marker = "ZQX-MARKER-7f3a9c1e-unique"
    admin.set_setting("site_name", f"Site {marker}")
    admin.add_user("nurse.m", f"Nurse {marker}", "nurse", initial_password="nurse-m-password-1",
                   must_change_password=False)
    nurse = Services.sign_in(site, "nurse.m", "nurse-m-password-1")
    nurse.save_draft("subject-new", {"comment": marker})
    nurse.register_subject("QZX", 1977, "F")
    needles = [marker.encode(), marker.encode("utf-16-le"), b"QZX"]

    def scan() -> list[str]:
        hits = []
        files = _files_under(db_path.parent, log_dir(), Path(os.environ.get("TMPDIR", "/tmp")) / "msc-sle-crf")
        assert any(f.name.endswith("-wal") for f in files) or True
        for path in files:
            data = path.read_bytes()
            hits += [f"{path.name}: {n!r}" for n in needles if n in data]
        return hits

    # While open (WAL and shm present) ...
    assert Path(f"{db_path}-wal").exists()
    assert scan() == []
    # ... and after closing.
    site.close()
    assert scan() == []
    assert KeySlotFile.path_for(db_path).exists()
    names = sorted(p.name for p in db_path.parent.iterdir())
    assert all(name.startswith(db_path.name) for name in names), names
