"""A process killed mid-write loses nothing committed; no plaintext trial data reaches the disk."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msc_sle_crf.locations import log_dir
from msc_sle_crf.security.keyslots import KeySlotFile
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef

from .conftest import make_user
from .helpers.eligible import make_eligible

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sigkill_during_audited_writes_keeps_every_committed_write(db_path: Path, site: Site, admin: Workspace,
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
    services = Workspace.sign_in(reopened, "nurse.k", password)
    numbers = [s.subject_number for s in services.subjects.list()]
    assert numbers[: len(committed)] == committed  # every acknowledged write is there, in order
    doctor = Workspace.sign_in(reopened, "admin", "correct-horse-42")
    creations = {r.subject for r in doctor.integrity.audit_trail(limit=10_000) if r.action == "create"}
    assert set(numbers) == creations  # each subject has its audit record, and no record lacks its subject
    report = doctor.integrity.verify()
    assert report.ok, report
    reopened.close()


def _files_under(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def test_no_plaintext_of_trial_data_on_disk(db_path: Path, site: Site, admin: Workspace) -> None:
    marker = "ZQX-MARKER-7f3a9c1e-unique"
    admin.settings.set("site_name", f"Site {marker}")
    admin.accounts.add_user("nurse.m", f"Nurse {marker}", "nurse", initial_password="nurse-m-password-1",
                   must_change_password=False)
    nurse = Workspace.sign_in(site, "nurse.m", "nurse-m-password-1")
    nurse.drafts.save("subject-new", {"comment": marker})
    nurse.subjects.register("QZX", 1977, "F")
    needles = [marker.encode(), marker.encode("utf-16-le")]
    # The initials are 3 letters: random ciphertext or base64 holds any 3 given letters now and then (that made this
    # test fail about once in ten runs), so they are looked for as a word (not inside a run of letters, digits or
    # base64) in every file that is not the encrypted database itself, whose pages are checked to be ciphertext.
    initials = re.compile(rb"(?<![A-Za-z0-9+/=_-])QZX(?![A-Za-z0-9+/=_-])")

    def scan() -> list[str]:
        hits = []
        files = _files_under(db_path.parent, log_dir(), Path(os.environ.get("TMPDIR", "/tmp")) / "msc-sle-crf")
        for path in files:
            data = path.read_bytes()
            hits += [f"{path.name}: {n!r}" for n in needles if n in data]
            if path.name in (db_path.name, f"{db_path.name}-wal"):
                hits += [f"{path.name}: a plain SQLite file"] if data.startswith(b"SQLite format 3") else []
            elif initials.search(data):
                hits.append(f"{path.name}: the initials")
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


@pytest.mark.slow
def test_sigkill_in_the_middle_of_an_infusion_loses_nothing(db_path: Path, site: Site, admin: Workspace) -> None:
    from msc_sle_crf.clock import SystemClock
    from msc_sle_crf.infusion import timer as T


    nurse_pw = make_user(admin, "nurse.k", "nurse")
    second_pw = make_user(admin, "nurse.l", "nurse")
    Workspace.sign_in(site, "nurse.k", nurse_pw).subjects.register("ABC", 1980, "F")
    doctor = Workspace.sign_in(site, "dr.k", make_user(admin, "dr.k", "investigator"))
    elig = doctor.study.bindings.infusion_day.eligibility  # the start needs eligibility confirmed
    doctor.entry.save_values(FormRef("01-001", elig.event or "", elig.form),
                             {(elig.group or "", 0, elig.confirmed): "Y"})
    make_eligible(doctor, "01-001")  # and the screening criteria tell it (h75: an undetermined one stops the start)
    site.close()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.bedside_writer", str(db_path), "nurse.k", nurse_pw, "nurse.l",
         second_pw], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith("running"), child.stderr.read() if child.stderr else ""
    time.sleep(1.5)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    killed_at = time.time()

    reopened = Site.open(db_path, clock=SystemClock())
    bedside = Workspace.sign_in(reopened, "nurse.k", nurse_pw).bedside
    state = bedside.state("01-001")
    assert state.timer.phase is T.Phase.RUNNING  # the infusion, its timer, its pause: all back
    assert state.timer.pauses[0][2] == "line occluded"
    started = state.timer.started.timestamp() if state.timer.started else 0
    assert state.timer.running_seconds + state.timer.paused_seconds == pytest.approx(time.time() - started, abs=1.0)
    assert state.timer.running_seconds >= killed_at - float(line.split()[1]) - 0.5
    assert [r.timepoint for r in state.readings] == ["BASE", "T15"]  # every vital-sign set
    assert state.product is not None and state.product.second_by == "nurse.l"
    assert bedside.typed("01-001") == {"VSTEMP": "37,"}  # and the field being typed
    reopened.close()
