"""Issue 18, item 1: workstations of one site. A fork delivered as one encrypted file, opened on another laptop as
WS-nn with its own identity (audited read-only settings), subject numbers and row ids from its own ranges, one
owning workstation per subject (refusals in one line), handover audited; verify and the data replay stay clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import Msg, PermissionDenied, StoreError, ValidationError
from msc_sle_crf.i18n import Lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.backup import restore_backup
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import AuditEvent, SiteSetting
from msc_sle_crf.sync import instances
from msc_sle_crf.sync import workstations as W
from msc_sle_crf.sync.identity import Workstation
from msc_sle_crf.sync.ids import RANGED_TABLES
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, make_user

DOCTOR_PW = "pw-house.rd-2026"
MONITOR_PW = "pw-itor.nom-2026"
NURSE_PW = "pw-joy.esrun-2026"
REF = FormRef("01-001", "SCR", "renal_function")
CREAT = ("lb", 0, "CREAT")
ROOT = Path(__file__).resolve().parent.parent


def _ids(site: Site) -> dict[str, set[int]]:
    assert site.store is not None
    conn = site.store.raw_connection()
    try:
        return {t: {int(r[0]) for r in conn.execute(f"SELECT id FROM {t}")} for t in sorted(RANGED_TABLES)}
    finally:
        conn.close()


def _sign_in(site: Site, user: str) -> Workspace:
    return Workspace.sign_in(site, user, {"admin": ADMIN_PW, "dr.house": DOCTOR_PW, "mon.itor": MONITOR_PW,
                                          "nurse.joy": NURSE_PW}[user])


def _verify_clean(site: Site) -> None:
    report = _sign_in(site, "admin").integrity.verify()
    assert report.ok, (report.audit.problem, [u.line() for u in report.unexplained], report.anchor_problems)


@pytest.fixture
def origin(db_path: Path, site: Site, admin: Workspace) -> Site:
    """WS-01 with a subject whose screening form is entered, signed, source-verified and queried."""
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "mon.itor", "monitor", MONITOR_PW)
    make_user(admin, "nurse.joy", "nurse", NURSE_PW)
    doctor = _sign_in(site, "dr.house")
    doctor.subjects.register("ABC", 1980, "F")
    doctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", CREAT: "88"})
    doctor.entry.mark_complete(REF)
    doctor.lifecycle.sign(REF, "dr.house", DOCTOR_PW, "approval")
    monitor = _sign_in(site, "mon.itor")
    monitor.monitoring.verify_item(REF, CREAT)
    monitor.monitoring.open_query(REF, CREAT, "Please confirm the unit")
    doctor.bedside.comment("01-001", "seen on the ward")
    return site


def _fork(origin: Site, tmp_path: Path, clock: FakeClock, name: str, number: int | None = None) -> Site:
    admin = _sign_in(origin, "admin")
    added = Workstations(admin.ctx).add(admin, tmp_path / f"{name}.crfws", number=number)
    opened = open_fork(added.path, tmp_path / name / "trial.crfdb", "admin", ADMIN_PW, clock=clock)
    assert opened.ws == added.ws
    return Site.open(opened.db_path, clock=clock)


def test_a_fork_is_one_encrypted_file_that_opens_as_ws02_with_its_identity_audited(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    admin = _sign_in(origin, "admin")
    added = Workstations(admin.ctx).add(admin, tmp_path / "ws02.crfws")
    assert (added.ws, added.number, added.subject_range) == ("WS-02", 2, "201-399")
    data = added.path.read_bytes()
    # three random bytes ("ABC") turn up in a megabyte of ciphertext about once in 16 runs: look for long markers
    assert b"SQLite format 3" not in data and b"seen on the ward" not in data
    with tarfile.open(added.path) as tar:
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())  # type: ignore[union-attr]
    assert manifest["workstation"]["ws"] == "WS-02"
    # the origin's record names the workstation and its range
    with admin.ctx.read() as session:
        record = session.execute(select(AuditEvent).where(AuditEvent.action == "workstation_add")).scalar_one()
    recorded = json.loads(record.new_value or "{}")
    token_hash = recorded.pop("token")  # the hash of the file's one-time token; the token only inside the file
    assert recorded == {"ws": "WS-02", "number": 2, "subject_range": "201-399", "from": "WS-01"}
    assert re.fullmatch(r"[0-9a-f]{64}", token_hash) and token_hash not in added.path.read_bytes().decode("latin-1")
    assert "token" in manifest["workstation"] and token_hash not in json.dumps(manifest)
    assert record.username == "admin" and manifest["workstation"]["fork"]["id"] == record.id
    _verify_clean(origin)
    origin.close()

    # a workstation file is not restored as a backup (it would be a second WS-01)
    with pytest.raises(StoreError, match="workstation file"):
        restore_backup(added.path, tmp_path / "r" / "x.crfdb", "admin", ADMIN_PW, clock=clock)
    # only an administrator opens it
    with pytest.raises(PermissionDenied):
        open_fork(added.path, tmp_path / "ws" / "x.crfdb", "dr.house", DOCTOR_PW, clock=clock)
    assert not (tmp_path / "ws" / "x.crfdb").exists()
    opened = open_fork(added.path, tmp_path / "ws02" / "trial.crfdb", "admin", ADMIN_PW, clock=clock)
    assert opened.fork == {"ws": "WS-01", "id": record.id, "hash": record.hash}
    with pytest.raises(StoreError) as exists:
        open_fork(added.path, opened.db_path, "admin", ADMIN_PW, clock=clock)
    assert exists.value.msg is Msg.DB_EXISTS
    copy = Site.open(opened.db_path, clock=clock)
    admin2 = _sign_in(copy, "admin")
    with admin2.ctx.read() as session:
        settings = {r.key: r.value for r in session.execute(select(SiteSetting)).scalars()}
        own = session.execute(select(AuditEvent).where(AuditEvent.id > record.id).order_by(AuditEvent.id)
                              ).scalars().all()
    assert settings["workstation_id"] == "WS-02" and settings["workstation_number"] == "2"
    assert settings["subject_range"] == "201-399"
    assert json.loads(settings["workstation_fork"]) == opened.fork
    # the copy's first own records: the file's one-time token (its hash is in the add record), then its identity,
    # one audited record per setting, by the administrator
    assert [(r.action, r.item) for r in own[:5]] == [("workstation_open", k) for k in
                                                     ("workstation_token", "workstation_id", "workstation_number",
                                                      "subject_range", "workstation_fork")]
    assert instances.token_hash(own[0].new_value) == token_hash
    assert all(r.username == "admin" and r.detail.startswith("workstation WS-02: forked from WS-01") for r in own[:5])
    # same accounts and keys: everyone signs in with their own password
    assert [s.subject_number for s in _sign_in(copy, "dr.house").subjects.list()] == ["01-001"]
    # read-only settings: not even an administrator changes them
    with pytest.raises(ValidationError):
        admin2.settings.set("workstation_id", "WS-01")
    info = Workstations(admin2.ctx).info()
    assert (info.ws, info.subjects, info.id_range, info.owned, info.subjects_total) == (
        "WS-02", (201, 399), (10_000_001, 20_000_000), 0, 1)
    assert "forked from WS-01" in W.describe(info).get(Lang.EN) and not info.alone
    _verify_clean(copy)
    copy.close()


def test_the_next_number_is_chosen_and_a_number_handed_out_is_refused(tmp_path: Path, origin: Site) -> None:
    admin = _sign_in(origin, "admin")
    service = Workstations(admin.ctx)
    assert service.info().alone
    assert service.add(admin, tmp_path / "a.crfws").ws == "WS-02"
    assert service.add(admin, tmp_path / "b.crfws", number=5).ws == "WS-05"
    assert service.add(admin, tmp_path / "c.crfws").ws == "WS-03"
    with pytest.raises(ValidationError) as taken:
        service.add(admin, tmp_path / "d.crfws", number=5)
    assert taken.value.msg is Msg.WORKSTATION_NUMBER_TAKEN and "WS-04" in taken.value.message()
    assert not (tmp_path / "d.crfws").exists()
    with pytest.raises(PermissionDenied):
        Workstations(_sign_in(origin, "dr.house").ctx).add(admin, tmp_path / "e.crfws")
    _verify_clean(origin)


def test_subject_numbers_come_from_the_workstations_range(tmp_path: Path, origin: Site, clock: FakeClock,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    copy = _fork(origin, tmp_path, clock, "ws02")
    doctor2 = _sign_in(copy, "dr.house")
    assert doctor2.subjects.register("DEF", 1975, "M").subject.subject_number == "01-201"
    assert doctor2.subjects.register("GHI", 1976, "F").subject.subject_number == "01-202"
    assert [(s.subject_number, s.owner_ws) for s in doctor2.subjects.list()] == [
        ("01-001", "WS-01"), ("01-201", "WS-02"), ("01-202", "WS-02")]
    # the first workstation goes on where it was
    assert _sign_in(origin, "dr.house").subjects.register("JKL", 1990, "F").subject.subject_number == "01-002"
    # a range used up: one clear line
    from msc_sle_crf.services import subjects as subjects_mod

    monkeypatch.setattr(subjects_mod, "this_workstation",
                        lambda _s: Workstation("WS-02", 2, (201, 202), None))
    with pytest.raises(ValidationError) as exhausted:
        doctor2.subjects.register("MNO", 1960, "M")
    assert exhausted.value.message() == ("No subject number left on WS-02: its numbers 01-201 to 01-202 are all "
                                         "used; register the subject on another workstation.")
    assert "Plus aucun numéro de patient sur WS-02" in exhausted.value.message(Lang.FR)
    monkeypatch.undo()
    _verify_clean(copy)
    _verify_clean(origin)
    copy.close()


def _work(site: Site, subject_initials: str) -> str:
    """Offline work on one workstation: a subject, a form with a repeating row, signed, SDV, a query, a reply, an
    infusion-day comment. Returns the subject's number."""
    doctor = _sign_in(site, "dr.house")
    number = doctor.subjects.register(subject_initials, 1980, "F").subject.subject_number
    ref = FormRef(number, "SCR", "renal_function")
    doctor.entry.save_values(ref, {("lb", 0, "LBDAT"): "20/11/2026", CREAT: "88"})
    doctor.entry.add_row(FormRef(number, "SCR", "corticosteroids"), "cs")
    doctor.entry.mark_complete(ref)
    doctor.lifecycle.sign(ref, "dr.house", DOCTOR_PW, "approval")
    monitor = _sign_in(site, "mon.itor")
    monitor.monitoring.verify_item(ref, CREAT)
    qid = monitor.monitoring.open_query(ref, CREAT, "Please confirm").query_id
    doctor.monitoring.answer(qid, "Confirmed")
    doctor.bedside.comment(number, "seen")
    # and on the subject entered before the fork: values, SDV and queries are allowed anywhere
    doctor.entry.save_item(REF, CREAT, "91", reason="transcription")
    monitor.monitoring.open_query(REF, CREAT, f"why 91 on {subject_initials}?")
    return number


def test_two_forks_working_offline_never_give_the_same_row_id_and_ws01_ids_are_unchanged(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    before = _ids(origin)
    assert all(ids and max(ids) < 100 for ids in before.values())  # WS-01 kept AUTOINCREMENT's ids: 1, 2, ...
    ws2 = _fork(origin, tmp_path, clock, "ws02")
    ws3 = _fork(origin, tmp_path, clock, "ws03")
    assert _work(ws2, "BBB") == "01-201" and _work(ws3, "CCC") == "01-401" and _work(origin, "AAA") == "01-002"
    ids = {name: _ids(site) for name, site in (("ws1", origin), ("ws2", ws2), ("ws3", ws3))}
    new = {name: {t: ids[name][t] - before[t] for t in RANGED_TABLES} for name in ids}
    for table in RANGED_TABLES:
        assert new["ws1"][table] and new["ws2"][table] and new["ws3"][table], table
        assert ids["ws2"][table] >= before[table] and ids["ws3"][table] >= before[table]  # pre-fork rows kept
        assert all(i <= 10_000_000 for i in new["ws1"][table])
        assert min(new["ws1"][table]) == max(before[table]) + 1  # WS-01 goes on from where it was
        assert all(10_000_001 <= i <= 20_000_000 for i in new["ws2"][table])
        assert all(20_000_001 <= i <= 30_000_000 for i in new["ws3"][table])
        assert not (new["ws1"][table] & new["ws2"][table]) and not (new["ws2"][table] & new["ws3"][table])
    assert min(new["ws2"]["form_instance"]) == 10_000_001
    for site in (origin, ws2, ws3):
        _verify_clean(site)
    ws2.close()
    ws3.close()


def test_only_the_owner_starts_forms_adds_rows_and_runs_the_infusion_day(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    copy = _fork(origin, tmp_path, clock, "ws02")
    doctor2 = _sign_in(copy, "dr.house")
    nurse2 = _sign_in(copy, "nurse.joy")
    refusals = [
        lambda: doctor2.entry.save_values(FormRef("01-001", "M0", "labs"), {("lb", 0, "LBDAT"): "20/11/2026"}),
        lambda: doctor2.entry.save_item(FormRef("01-001", "SCR", "screening"), ("consent", 0, "ICVER"), "v2"),
        lambda: doctor2.entry.add_row(FormRef("01-001", "SCR", "corticosteroids"), "cs"),
        lambda: nurse2.bedside.comment("01-001", "pulse 80"),
        lambda: nurse2.bedside.product_check("01-001", identity_confirmed=True, weight_kg="60", cohort="2",
                                             bag_id="UC-1", lot="L1", labelled_cells_e6="60", use_by="31/12/2026",
                                             premedication="none"),
    ]
    before = _ids(copy)
    for attempt in refusals:
        with pytest.raises(PermissionDenied) as refused:
            attempt()
        assert refused.value.message() == ("Subject 01-001 is entered on WS-01 (this is WS-02): its new forms, rows "
                                           "and infusion day are done there; ask for a handover.")
    assert refused.value.message(Lang.FR) == (
        "Le patient 01-001 est saisi sur le poste WS-01 (celui-ci est WS-02) : ses nouveaux formulaires, lignes et sa "
        "journée de perfusion se font là-bas ; demandez son transfert.")
    assert _ids(copy) == before  # nothing written
    # allowed anywhere: a value of an existing form (with its reason), SDV, queries
    doctor2.entry.save_item(REF, CREAT, "90", reason="lab report")
    monitor2 = _sign_in(copy, "mon.itor")
    monitor2.monitoring.verify_item(REF, CREAT)
    monitor2.monitoring.open_query(REF, CREAT, "90 or 88?")
    doctor2.entry.mark_complete(REF)
    doctor2.lifecycle.sign(REF, "dr.house", DOCTOR_PW, "approval")
    assert Workstations(doctor2.ctx).owner("01-001") == "WS-01"
    # the first workstation owns it and goes on
    _sign_in(origin, "dr.house").entry.add_row(FormRef("01-001", "SCR", "corticosteroids"), "cs")
    _verify_clean(copy)
    _verify_clean(origin)
    copy.close()


def test_handover_is_audited_with_its_reason_and_only_done_on_the_owner(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    copy = _fork(origin, tmp_path, clock, "ws02")
    doctor1, doctor2 = _sign_in(origin, "dr.house"), _sign_in(copy, "dr.house")
    with pytest.raises(ValidationError) as not_owner:
        Workstations(doctor2.ctx).handover("01-001", "WS-02", "the consultation laptop")
    assert not_owner.value.message() == ("Subject 01-001 is entered on WS-01: the handover is done there (this is "
                                         "WS-02).")
    service = Workstations(doctor1.ctx)
    with pytest.raises(ValidationError):
        service.handover("01-001", "WS-02", "  ")
    with pytest.raises(ValidationError) as unknown:
        service.handover("01-001", "WS-07", "typo")
    assert "WS-01, WS-02" in unknown.value.message()
    with pytest.raises(ValidationError, match="already entered on WS-01"):
        service.handover("01-001", "WS-01", "no-op")
    with pytest.raises(PermissionDenied):
        Workstations(_sign_in(origin, "nurse.joy").ctx).handover("01-001", "WS-02", "nurses may not")
    changes = service.handover("01-001", "ws-02", "follow-up visits on the consultation laptop")
    assert changes.subjects == {"01-001"} and changes.data
    with doctor1.ctx.read() as session:
        record = session.execute(select(AuditEvent).where(AuditEvent.action == "subject_handover")).scalar_one()
    assert (record.subject, record.old_value, record.new_value, record.reason, record.username) == (
        "01-001", "WS-01", "WS-02", "follow-up visits on the consultation laptop", "dr.house")
    assert service.owner("01-001") == "WS-02"
    # WS-01 no longer starts its forms
    with pytest.raises(PermissionDenied, match="entered on WS-02"):
        doctor1.entry.add_row(FormRef("01-001", "SCR", "corticosteroids"), "cs")
    _verify_clean(origin)
    # an owner changed behind the trail's back is named by verify
    assert origin.store is not None
    with origin.store.write() as session:
        session.connection().exec_driver_sql("UPDATE subject SET owner_ws = NULL WHERE subject_number = '01-001'")
    report = _sign_in(origin, "admin").integrity.verify()
    assert not report.ok and any("owner_ws is 'WS-01'; the trail says 'WS-02'" in u.line()
                                 for u in report.unexplained)
    copy.close()


def test_an_identity_setting_changed_behind_the_trails_back_is_named_by_verify(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    copy = _fork(origin, tmp_path, clock, "ws02")
    _verify_clean(copy)
    assert copy.store is not None
    with copy.store.write() as session:
        session.connection().exec_driver_sql("UPDATE site_setting SET value = '001-199' WHERE key = 'subject_range'")
    report = _sign_in(copy, "admin").integrity.verify()
    assert not report.ok and any("site setting subject_range" in u.line() for u in report.unexplained)
    copy.close()


# ----- the command line, run as a user would ------------------------------------------------------------------------
FAST = ["--kdf-time-cost", "2", "--kdf-memory-mib", "19"]
PW = "Bonjour-Paris-2026"


def cli(*args: str, stdin: str = PW + "\n") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "msc_sle_crf", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=180)


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_the_workstation_commands(tmp_path: Path) -> None:
    db, ws2 = tmp_path / "site.crfdb", tmp_path / "ws2" / "site.crfdb"
    assert cli("init", "--db", str(db), "--admin", "chef", "--full-name", "Chef", "--password-stdin",
               *FAST).returncode == 0
    out = cli("user", "add", "--db", str(db), "--user", "chef", "--password-stdin", "--name", "dr.cli",
              "--full-name", "Dr CLI", "--role", "investigator")
    assert out.returncode == 0, out.stderr
    # a subject on WS-01, through the service (the command line enters no data)
    clock = FakeClock()
    with Site.open(db, clock=clock) as site:
        Workspace.sign_in(site, "chef", PW).subjects  # noqa: B018 - signs in
        services = Workspace.sign_in(site, "chef", PW)
        make_user(services, "dr.two", "investigator", DOCTOR_PW)
        doctor = Workspace.sign_in(site, "dr.two", DOCTOR_PW)
        doctor.subjects.register("ABC", 1980, "F")
        doctor.bedside.comment("01-001", "seen on the ward by dr.two")
    added = cli("workstation", "add", "--db", str(db), "--user", "chef", "--password-stdin", "--out",
                str(tmp_path / "ws2.crfws"))
    assert added.returncode == 0, added.stderr
    assert "Workstation WS-02 written" in added.stdout and "01-201 to 01-399" in added.stdout
    assert b"seen on the ward by dr.two" not in (tmp_path / "ws2.crfws").read_bytes()
    refused = cli("workstation", "add", "--db", str(db), "--user", "dr.two", "--password-stdin", "--out",
                  str(tmp_path / "x.crfws"), stdin=DOCTOR_PW + "\n")
    assert "may not add a workstation of the site" in _one_line(refused) and refused.returncode == 4
    opened = cli("workstation", "open", str(tmp_path / "ws2.crfws"), "--db", str(ws2), "--user", "chef",
                 "--password-stdin")
    assert opened.returncode == 0, opened.stderr
    assert "is now workstation WS-02" in opened.stdout
    shown = cli("workstation", "show", "--db", str(ws2), "--user", "chef", "--password-stdin")
    assert shown.returncode == 0, shown.stderr
    assert "Workstation WS-02 (number 2); forked from WS-01" in shown.stdout
    assert "Subject numbers: 01-201 … 01-399" in shown.stdout and "Subjects entered here: 0 of 1" in shown.stdout
    fr = cli("--lang", "fr", "workstation", "show", "--db", str(ws2), "--user", "chef", "--password-stdin")
    assert "Poste WS-02 (numéro 2) ; copie de WS-01" in fr.stdout
    # a handover on a workstation that does not own the subject: one line, no traceback
    refused = cli("workstation", "handover", "01-001", "--to", "WS-02", "--reason", "follow-up", "--db", str(ws2),
                  "--user", "dr.two", "--password-stdin", stdin=DOCTOR_PW + "\n")
    assert _one_line(refused).endswith("Subject 01-001 is entered on WS-01: the handover is done there (this is "
                                       "WS-02).") and refused.returncode == 2
    refused = cli("--lang", "fr", "workstation", "handover", "01-001", "--to", "WS-02", "--reason", "suivi", "--db",
                  str(ws2), "--user", "dr.two", "--password-stdin", stdin=DOCTOR_PW + "\n")
    assert "Le patient 01-001 est saisi sur le poste WS-01" in _one_line(refused)
    done = cli("workstation", "handover", "01-001", "--to", "WS-02", "--reason", "follow-up", "--db", str(db),
               "--user", "dr.two", "--password-stdin", stdin=DOCTOR_PW + "\n")
    assert done.returncode == 0, done.stderr
    assert "handed over to WS-02" in done.stdout
    for path in (db, ws2):
        verified = cli("verify", "--db", str(path), "--user", "chef", "--password-stdin")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "Data against the trail: OK" in verified.stdout
    bad = cli("workstation", "open", str(tmp_path / "nothing.crfws"), "--db", str(tmp_path / "n.crfdb"), "--user",
              "chef", "--password-stdin")
    assert "is not a workstation file of a site" in _one_line(bad)


# ----- the screens --------------------------------------------------------------------------------------------------
def test_the_window_names_the_workstation_and_the_casebook_its_owner_in_french(
        qtbot, tmp_path: Path, origin: Site, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QLabel

    from msc_sle_crf.i18n import set_lang
    from msc_sle_crf.ui.casebook import CasebookDialog
    from msc_sle_crf.ui.form import FormWindow
    from msc_sle_crf.ui.main_window import MainWindow

    alone = MainWindow(_sign_in(origin, "dr.house"), idle_ms=10**9)  # the site's only laptop: nothing more shown
    qtbot.addWidget(alone)
    assert "WS-" not in alone.windowTitle() and "WS-" not in alone.status_site.text()
    alone.close()
    copy = _fork(origin, tmp_path, clock, "ws02")
    doctor2 = _sign_in(copy, "dr.house")
    doctor2.subjects.register("DEF", 1975, "M")
    set_lang(Lang.FR)
    main = MainWindow(doctor2, idle_ms=10**9)
    qtbot.addWidget(main)
    assert main.windowTitle().endswith("— WS-02") and main.status_site.text().startswith("Poste WS-02")
    tips = {main.subjects.subject_at(r): main.subjects.table.item(r, 0).toolTip()
            for r in range(main.subjects.table.rowCount())}
    assert tips == {"01-001": "Saisi sur le poste WS-01 : nouveaux formulaires et journée de perfusion s'y font",
                    "01-201": "Saisi sur ce poste (WS-02)"}
    elsewhere = CasebookDialog(doctor2, "01-001")
    qtbot.addWidget(elsewhere)
    assert elsewhere.owner_note.isVisibleTo(elsewhere)
    assert elsewhere.owner_note.text().startswith("Saisi sur le poste WS-01 (celui-ci est WS-02)")
    assert not elsewhere.bedside_button.isEnabled()
    here = CasebookDialog(doctor2, "01-201")
    qtbot.addWidget(here)
    assert here.owner_note.text() == "Saisi sur ce poste (WS-02)." and here.bedside_button.isEnabled()
    not_started = FormWindow(doctor2, FormRef("01-001", "SCR", "demographics"))
    qtbot.addWidget(not_started)
    assert not_started.view.read_only
    assert "le patient 01-001 est saisi sur le poste WS-01" in " ".join(
        label.text() for label in not_started.view.header.findChildren(QLabel))
    started = FormWindow(doctor2, REF)  # values of an existing form change anywhere
    qtbot.addWidget(started)
    assert not started.view.read_only
    for window in (elsewhere, here, not_started, started, main):
        window.close()
    copy.close()
