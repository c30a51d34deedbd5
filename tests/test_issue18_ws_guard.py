"""Issue 18, what a new user ran into with workstations (docs/workstations.md "One workstation file, one database" and
"Restored from a backup"): a workstation file opened twice, a workstation restored from a backup older than what it
sent, a packet written over an existing file, and the words of the refusals. Real files throughout: forks opened with
``workstation open``, packets written and read back, backups restored, the command line run as a process."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import CrfError, ValidationError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.backup import create_backup, restore_backup
from msc_sle_crf.store.tables import SiteSetting
from msc_sle_crf.sync.service import Packets
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user

ROOT = Path(__file__).resolve().parents[1]
DOCTOR_PW = "pw-house.rd-2026"


def _doctor(site: Site) -> Workspace:
    return Workspace.sign_in(site, "dr.house", DOCTOR_PW)


def _export(site: Site, out: Path) -> Path:
    ws = _doctor(site)
    result = Packets(ws.ctx, ws.study).export(out)
    assert result is not None
    return result.path


def _import(site: Site, path: Path) -> str:
    ws = _doctor(site)
    return Packets(ws.ctx, ws.study).import_file(path).line().get()


def _refusal(site: Site, path: Path) -> str:
    ws = _doctor(site)
    with pytest.raises(CrfError) as caught:
        Packets(ws.ctx, ws.study).import_file(path)
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.fixture
def origin(site: Site, admin: Workspace) -> Site:
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    _doctor(site).subjects.register("ABC", 1980, "F")
    return site


def _verify_clean(site: Site) -> None:
    report = Workspace.sign_in(site, "admin", ADMIN_PW).integrity.verify()
    assert report.ok, (report.audit.problem, [u.line() for u in report.unexplained], report.anchor_problems)


# ----- 1. one workstation file, opened twice ---------------------------------------------------------------------
def test_a_workstation_file_opened_twice_is_named_as_such_on_every_side(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    admin = Workspace.sign_in(origin, "admin", ADMIN_PW)
    added = Workstations(admin.ctx).add(admin, tmp_path / "WS-02.crfws")
    first = open_fork(added.path, tmp_path / "a" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock)
    second = open_fork(added.path, tmp_path / "b" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock)
    assert first.ws == second.ws == "WS-02" and first.instance != second.instance
    assert re.fullmatch(r"[0-9a-f]{16}", first.instance)
    real, twin = Site.open(first.db_path, clock=clock), Site.open(second.db_path, clock=clock)
    # both give 01-201 to different patients: what must not be mixed
    _doctor(real).subjects.register("DEF", 1970, "M")
    _doctor(twin).subjects.register("GHI", 1960, "F")
    real_packet, twin_packet = _export(real, tmp_path / "outa"), _export(twin, tmp_path / "outb")
    assert real_packet.name == twin_packet.name == "PACKET-01-WS-02-00001.crfpkt"
    # the site takes the first it hears of: the real one
    assert "packet 1 of WS-02 applied" in _import(origin, real_packet)
    line = _refusal(origin, twin_packet)
    assert "second database opened from the same workstation file WS-02" in line, line
    assert f"instance {second.instance}" in line and f"instance {first.instance}" in line
    assert "the site's WS-02 is the one whose records reached this database first" in line
    assert "msc-sle-crf export --db" in line  # how the duplicate's data get out
    # the real WS-02 was told 'was written by this workstation (WS-02)'
    line = _refusal(real, twin_packet)
    assert "written by another database opened from this workstation's file WS-02" in line, line
    assert "written by this workstation" not in line
    # the duplicate learns it is the duplicate from the site's next packet (it relays the real WS-02's set-up)
    site_packet = _export(origin, tmp_path / "outs")
    line = _refusal(twin, site_packet)
    assert "this database is a second opening of the workstation file WS-02" in line, line
    assert "WS-01 knows the site's WS-02 as the one opened" in line and f"instance {first.instance}" in line
    assert "packet 1 of WS-01 applied" in _import(real, site_packet)
    # nothing of the duplicate entered the site; the instance is part of each identity verify checks
    assert "01-201" in {s.subject_number for s in _doctor(origin).subjects.list()}
    for db in (origin, real, twin):
        _verify_clean(db)
    assert real.store is not None
    with real.store.write() as session:  # behind the trail's back: made to look like the other opening
        assert session.get(SiteSetting, "workstation_instance").value == first.instance
        session.connection().exec_driver_sql("UPDATE site_setting SET value = ? WHERE key = 'workstation_instance'",
                                             (second.instance,))
    report = Workspace.sign_in(real, "admin", ADMIN_PW).integrity.verify()
    assert any("site setting workstation_instance" in u.line() for u in report.unexplained)
    real.close()
    twin.close()


def test_a_relayed_set_up_of_a_second_opening_is_refused_on_a_third_workstation(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    """WS-03 heard of the duplicate first (it imported its packet); the site's packet then relays the real WS-02's
    set-up: WS-03 names it as another opening, it does not mix the two."""
    admin = Workspace.sign_in(origin, "admin", ADMIN_PW)
    ws2 = Workstations(admin.ctx).add(admin, tmp_path / "WS-02.crfws")
    ws3 = Workstations(admin.ctx).add(admin, tmp_path / "WS-03.crfws")
    real = Site.open(open_fork(ws2.path, tmp_path / "a" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock).db_path,
                     clock=clock)
    twin = Site.open(open_fork(ws2.path, tmp_path / "b" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock).db_path,
                     clock=clock)
    third = Site.open(open_fork(ws3.path, tmp_path / "c" / "ws3.crfdb", "admin", ADMIN_PW, clock=clock).db_path,
                      clock=clock)
    _doctor(real).subjects.register("DEF", 1970, "M")
    _doctor(twin).subjects.register("GHI", 1960, "F")
    _import(origin, _export(real, tmp_path / "outa"))
    _import(third, _export(twin, tmp_path / "outb"))  # WS-03 binds the other one
    line = _refusal(third, _export(origin, tmp_path / "outs"))
    assert "second database opened from the same workstation file WS-02" in line, line
    for db in (real, twin, third):
        db.close()


# ----- 2. a workstation restored from a backup older than what it sent -------------------------------------------
def test_a_workstation_restored_from_an_older_backup_is_named_on_both_sides_and_at_restore(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    admin = Workspace.sign_in(origin, "admin", ADMIN_PW)
    added = Workstations(admin.ctx).add(admin, tmp_path / "WS-02.crfws")
    ws2_path = open_fork(added.path, tmp_path / "a" / "ws2.crfdb", "admin", ADMIN_PW, clock=clock).db_path
    ws2 = Site.open(ws2_path, clock=clock)
    _doctor(ws2).subjects.register("DEF", 1970, "M")
    _import(origin, _export(ws2, tmp_path / "o1"))
    backup = create_backup(Workspace.sign_in(ws2, "admin", ADMIN_PW), tmp_path / "ws2.crfbak")
    _doctor(ws2).subjects.register("MNO", 1971, "M")
    _import(origin, _export(ws2, tmp_path / "o2"))  # packet 2, made after the backup, is on WS-01
    site_packet = _export(origin, tmp_path / "o3")
    ws2.close()
    restored = restore_backup(backup, ws2_path, "admin", ADMIN_PW, force=True, clock=clock)
    assert restored.workstation == "WS-02" and restored.last_packet == 1
    warning = restored.workstation_warning()
    assert warning is not None and "backup of workstation WS-02" in warning.en and "its packet 1" in warning.en
    assert "sauvegarde du poste WS-02" in warning.fr
    ws2 = Site.open(ws2_path, clock=clock)
    _doctor(ws2).subjects.register("PQR", 1972, "F")
    # its packet 2 is not the packet 2 WS-01 holds (it was refused as 'another packet 2 of WS-02 was imported')
    line = _refusal(origin, _export(ws2, tmp_path / "o4"))
    assert "a different packet 2 of WS-02 was imported here on" in line, line
    assert "WS-02 was restored from a backup older than what it already sent" in line
    assert re.search(r"imported here on \d\d/\d\d/\d{4} \d\d:\d\d:", line)
    # WS-01's packet copies WS-02's records that the restored WS-02 no longer has (was: 'does not hold as its author's')
    line = _refusal(ws2, site_packet)
    assert "this workstation (WS-02) was restored from a backup older than what it already sent" in line, line
    assert "WS-01 imported a packet 2 of it that this database did not write" in line
    ws2.close()


def test_a_backup_of_a_site_that_never_forked_restores_without_a_workstation_warning(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    backup = create_backup(Workspace.sign_in(origin, "admin", ADMIN_PW), tmp_path / "site.crfbak")
    restored = restore_backup(backup, tmp_path / "restored" / "site.crfdb", "admin", ADMIN_PW, clock=clock)
    assert restored.workstation is None and restored.workstation_warning() is None


# ----- 3. a packet never replaces a file; it is private ------------------------------------------------------------
def test_a_packet_is_never_written_over_an_existing_file_and_is_private(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    out = tmp_path / "usb"
    out.mkdir()
    mine = out / "PACKET-01-WS-01-00001.crfpkt"
    mine.write_bytes(b"a packet of before the restore")
    ws = _doctor(origin)
    with pytest.raises(ValidationError) as caught:
        Packets(ws.ctx, ws.study).export(out)
    assert "already exists with other content" in str(caught.value) and str(mine) in str(caught.value)
    assert mine.read_bytes() == b"a packet of before the restore"
    assert sorted(p.name for p in out.iterdir()) == [mine.name]  # no temporary file left
    mine.unlink()
    path = _export(origin, out)  # nothing was recorded by the refused export: it is packet 1 again
    assert path == mine
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ----- 4. the words, on the command line -------------------------------------------------------------------------
FAST = ["--kdf-time-cost", "2", "--kdf-memory-mib", "19"]
PW = "Bonjour-Paris-2026"


def cli(*args: str, stdin: str = PW + "\n") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "msc_sle_crf", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=180)


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "propagateSizeHints" not in line]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_the_words_of_the_workstation_commands(tmp_path: Path) -> None:
    db, ws2 = tmp_path / "site.crfdb", tmp_path / "ws2" / "ws2.crfdb"
    assert cli("init", "--db", str(db), "--admin", "chef", "--full-name", "Chef", "--password-stdin",
               *FAST).returncode == 0
    with Site.open(db, clock=FakeClock()) as site:
        admin = Workspace.sign_in(site, "chef", PW)
        make_user(admin, "dr.house", "investigator", DOCTOR_PW)
        _doctor(site).subjects.register("ABC", 1980, "F")
    wsfile = tmp_path / "usb" / "WS-02.crfws"
    wsfile.parent.mkdir()
    assert cli("workstation", "add", "--db", str(db), "--user", "chef", "--password-stdin", "--out",
               str(wsfile)).returncode == 0
    opened = cli("--lang", "fr", "workstation", "open", str(wsfile), "--db", str(ws2), "--user", "chef",
                 "--password-stdin")
    assert opened.returncode == 0, opened.stderr
    assert "Un fichier de poste ne s'ouvre qu'une fois" in opened.stdout and "N'ouvrez pas WS-02.crfws" in opened.stdout
    instance = re.search(r"instance ([0-9a-f]{16})", opened.stdout)
    assert instance is not None
    shown = cli("workstation", "show", "--db", str(ws2), "--user", "chef", "--password-stdin")
    assert f"; instance {instance.group(1)}, opened " in shown.stdout, shown.stdout
    # a workstation file given as a packet (was: 'not a packet of this program (no packet header)')
    line = _one_line(cli("--lang", "fr", "packet", "import", "--db", str(db), "--user", "dr.house",
                         "--password-stdin", str(wsfile), stdin=DOCTOR_PW + "\n"))
    assert "WS-02.crfws est un fichier de poste, pas un paquet" in line and "workstation open" in line, line
    # restore of a workstation file, in French to the end (was: English after the colon)
    line = _one_line(cli("--lang", "fr", "restore", "--backup", str(wsfile), "--db", str(tmp_path / "c" / "x.crfdb"),
                         "--user", "chef", "--password-stdin"))
    assert "est un fichier de poste (un autre ordinateur du site), pas une sauvegarde" in line, line
    assert "open it" not in line and not (tmp_path / "c" / "x.crfdb").exists()
    # a workstation file given as the database (was: key file missing, use 'restore'; and a .lock left behind)
    for command in (["verify"], ["workstation", "show"]):
        line = _one_line(cli(*command, "--db", str(wsfile), "--user", "chef", "--password-stdin"))
        assert "is a workstation file, not a database" in line and "workstation open WS-02.crfws" in line, line
    assert sorted(p.name for p in wsfile.parent.iterdir()) == ["WS-02.crfws"]
    # handover to a workstation written right but unknown (was: 'write it WS-nn' for 'WS-03')
    line = _one_line(cli("--lang", "fr", "workstation", "handover", "01-001", "--to", "WS-03", "--reason", "suivi",
                         "--db", str(db), "--user", "dr.house", "--password-stdin", stdin=DOCTOR_PW + "\n"))
    assert "Le poste WS-03 n'est pas connu ici" in line and "WS-01, WS-02" in line and "l'écrire" not in line, line
    line = _one_line(cli("workstation", "handover", "01-001", "--to", "ws3", "--reason", "follow-up",
                         "--db", str(db), "--user", "dr.house", "--password-stdin", stdin=DOCTOR_PW + "\n"))
    assert "write it WS-nn" in line
    # the same packet twice: the date as people read it (was: 2026-12-02T16:02:27.673415Z)
    with Site.open(ws2, clock=FakeClock()) as site:
        _doctor(site).subjects.register("DEF", 1970, "M")
    out = tmp_path / "out"
    exported = cli("packet", "export", "--db", str(ws2), "--user", "dr.house", "--password-stdin", "--out", str(out),
                   stdin=DOCTOR_PW + "\n")
    assert exported.returncode == 0, exported.stderr
    packet = next(out.iterdir())
    assert stat.S_IMODE(os.stat(packet).st_mode) == 0o600
    for _ in range(2):
        done = cli("--lang", "fr", "packet", "import", "--db", str(db), "--user", "dr.house", "--password-stdin",
                   str(packet), stdin=DOCTOR_PW + "\n")
        assert done.returncode == 0, done.stderr
    # the app's one way of showing a stored time (clock.format_stored): wall clock, then its offset
    assert re.search(r"déjà importé le \d\d/\d\d/\d{4} \d\d:\d\d UTC[+-]\d\d:\d\d \(paquet 1 de WS-02\)",
                     done.stdout), done.stdout
    assert "T" not in done.stdout.split("déjà importé le ")[1][:16]
    # 'packet export' refuses to write over a file with its packet's name (was: silently replaced)
    with Site.open(ws2, clock=FakeClock()) as site:
        _doctor(site).subjects.register("GHI", 1960, "F")
    theirs = out / "PACKET-01-WS-02-00002.crfpkt"
    theirs.write_bytes(packet.read_bytes())  # say, the packet 2 written before a restore
    line = _one_line(cli("packet", "export", "--db", str(ws2), "--user", "dr.house", "--password-stdin", "--out",
                         str(out), stdin=DOCTOR_PW + "\n"))
    assert "already exists with other content" in line and theirs.read_bytes() == packet.read_bytes(), line
