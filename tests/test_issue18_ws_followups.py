"""Issue 18, follow-ups of the workstation part: a write refused because another workstation owns the subject is
audited like any refused action (reads write nothing); a site that never forked is not stopped at subject 199, and
its first fork splits the numbers it has not used; the account set travels with packets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import PermissionDenied
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import AuditEvent
from msc_sle_crf.sync.workstations import Workstations, open_fork

from .conftest import ADMIN_PW, FAST_KDF, make_user

DOCTOR_PW = "pw-house.rd-2026"
NURSE_PW = "pw-joy.esrun-2026"
PWS = {"admin": ADMIN_PW, "dr.house": DOCTOR_PW, "nurse.joy": NURSE_PW}


def _sign_in(site: Site, user: str) -> Workspace:
    return Workspace.sign_in(site, user, PWS[user])


def _fork(origin: Site, tmp_path: Path, clock: FakeClock, name: str) -> Site:
    admin = _sign_in(origin, "admin")
    added = Workstations(admin.ctx).add(admin, tmp_path / f"{name}.crfws")
    opened = open_fork(added.path, tmp_path / name / "trial.crfdb", "admin", ADMIN_PW, clock=clock)
    return Site.open(opened.db_path, clock=clock)


def _verify_clean(site: Site) -> None:
    report = _sign_in(site, "admin").integrity.verify()
    assert report.ok, (report.audit.problem, [u.line() for u in report.unexplained], report.anchor_problems)


@pytest.fixture
def origin(site: Site, admin: Workspace) -> Site:
    make_user(admin, "dr.house", "investigator", DOCTOR_PW)
    make_user(admin, "nurse.joy", "nurse", NURSE_PW)
    doctor = _sign_in(site, "dr.house")
    doctor.subjects.register("ABC", 1980, "F")
    doctor.entry.save_values(FormRef("01-001", "SCR", "renal_function"), {("lb", 0, "LBDAT"): "20/11/2026"})
    return site


def _denied(ws: Workspace) -> list[tuple[str | None, str | None, str | None]]:
    with ws.ctx.read() as session:
        return [tuple(r) for r in session.execute(select(AuditEvent.username, AuditEvent.subject, AuditEvent.detail)
                                                  .where(AuditEvent.action == "access_denied")
                                                  .order_by(AuditEvent.id)).all()]


# ----- 3. ownership refusals are audited -------------------------------------------------------------------------
def test_an_ownership_refusal_is_audited_once_and_a_read_writes_nothing(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    copy = _fork(origin, tmp_path, clock, "ws02")
    doctor2, nurse2 = _sign_in(copy, "dr.house"), _sign_in(copy, "nurse.joy")
    with doctor2.ctx.read() as session:
        records_before = session.execute(select(func.max(AuditEvent.id))).scalar()
    # reading and asking write nothing
    doctor2.entry.open_form(FormRef("01-001", "SCR", "renal_function"))
    assert not Workstations(doctor2.ctx).owns("01-001")
    assert Workstations(doctor2.ctx).owner("01-001") == "WS-01"
    with doctor2.ctx.read() as session:
        assert "access_denied" not in session.execute(select(AuditEvent.action)
                                                      .where(AuditEvent.id > records_before)).scalars().all()
        records_before = session.execute(select(func.max(AuditEvent.id))).scalar()
    attempts = [
        (doctor2, lambda: doctor2.entry.save_values(FormRef("01-001", "M0", "labs"),
                                                    {("lb", 0, "LBDAT"): "20/11/2026"})),
        (doctor2, lambda: doctor2.entry.add_row(FormRef("01-001", "SCR", "corticosteroids"), "cs")),
        (nurse2, lambda: nurse2.bedside.comment("01-001", "pulse 80")),
    ]
    for _ws, attempt in attempts:
        with pytest.raises(PermissionDenied, match="is entered on WS-01"):
            attempt()
    denied = _denied(doctor2)
    assert [(u, s) for u, s, _d in denied] == [("dr.house", "01-001"), ("dr.house", "01-001"),
                                               ("nurse.joy", "01-001")]
    assert all(d == "refused on WS-02: subject 01-001 is entered on WS-01 (new forms, rows and its infusion day are "
                    "done there)" for _u, _s, d in denied)
    # nothing else of the refused writes was kept
    with doctor2.ctx.read() as session:
        since = session.execute(select(AuditEvent.action).where(AuditEvent.id > records_before)).scalars().all()
    assert sorted(set(since)) == ["access_denied"]
    _verify_clean(copy)
    copy.close()


# ----- 4. a site that never forked is not stopped at subject 199 ------------------------------------------------
def _initials(n: int) -> str:
    return "".join(chr(65 + (n // 26**i) % 26) for i in range(3))


def test_a_site_never_forked_goes_past_199_and_its_first_fork_splits_the_unused_numbers(
        tmp_path: Path, origin: Site, clock: FakeClock) -> None:
    doctor = _sign_in(origin, "dr.house")
    numbers = [doctor.subjects.register(_initials(n), 1980, "F").subject.subject_number for n in range(1, 202)]
    assert numbers[197:] == ["01-199", "01-200", "01-201", "01-202"]  # before: "No subject number left on WS-01"
    admin = _sign_in(origin, "admin")
    assert Workstations(admin.ctx).info().subjects == (1, 999)
    added = Workstations(admin.ctx).add(admin, tmp_path / "ws02.crfws")
    # WS-01 keeps its numbers up to the end of the block it is in; WS-02 gets the next block nobody holds
    assert (added.ws, added.subject_range) == ("WS-02", "401-599")
    assert Workstations(admin.ctx).info().subjects == (1, 399)
    with admin.ctx.read() as session:
        settled = session.execute(select(AuditEvent.item, AuditEvent.new_value, AuditEvent.username)
                                  .where(AuditEvent.action == "workstation_open").order_by(AuditEvent.id)).all()
    assert [tuple(r) for r in settled] == [("workstation_id", "WS-01", "admin"), ("workstation_number", "1", "admin"),
                                           ("subject_range", "001-399", "admin")]
    assert doctor.subjects.register("XYZ", 1970, "M").subject.subject_number == "01-203"
    opened = open_fork(added.path, tmp_path / "ws02" / "trial.crfdb", "admin", ADMIN_PW, clock=clock)
    copy = Site.open(opened.db_path, clock=clock)
    doctor2 = _sign_in(copy, "dr.house")
    assert doctor2.subjects.register("QRS", 1971, "F").subject.subject_number == "01-401"
    admin2 = _sign_in(copy, "admin")
    assert Workstations(admin2.ctx).info().subjects == (401, 599)
    # a third workstation, forked from WS-02: its own block is 401-599 (held): the next free one
    third = Workstations(admin2.ctx).add(admin2, tmp_path / "ws03.crfws")
    assert (third.ws, third.subject_range) == ("WS-03", "601-799")
    _verify_clean(copy)
    _verify_clean(origin)
    copy.close()


def test_a_workstation_of_a_forked_site_stops_at_the_end_of_its_block_in_one_line(
        tmp_path: Path, origin: Site, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_sle_crf.errors import ValidationError
    from msc_sle_crf.i18n import Lang
    from msc_sle_crf.services import subjects as subjects_mod
    from msc_sle_crf.sync.identity import Workstation

    doctor = _sign_in(origin, "dr.house")
    monkeypatch.setattr(subjects_mod, "this_workstation", lambda _s: Workstation("WS-01", 1, (1, 2), None))
    assert doctor.subjects.register("DEF", 1975, "M").subject.subject_number == "01-002"
    assert doctor.subjects.register("GHI", 1975, "M").subject.subject_number == "01-003"  # alone: goes on
    monkeypatch.undo()
    _fork(origin, tmp_path, clock, "ws02").close()
    monkeypatch.setattr(subjects_mod, "this_workstation", lambda _s: Workstation("WS-01", 1, (1, 3), None))
    with pytest.raises(ValidationError) as exhausted:  # forked: the block is the limit
        doctor.subjects.register("JKL", 1975, "M")
    assert exhausted.value.message() == ("No subject number left on WS-01: its numbers 01-001 to 01-003 are all "
                                         "used; register the subject on another workstation.")
    assert exhausted.value.message(Lang.FR) == (
        "Plus aucun numéro de patient sur WS-01 : ses numéros 01-001 à 01-003 sont tous pris ; inscrivez le patient "
        "sur un autre poste.")


# ----- 2. the account set travels with packets --------------------------------------------------------------------
class _Sites:
    def __init__(self, tmp_path: Path, clock: FakeClock) -> None:
        from .helpers.workstations import fork

        self.clock = clock
        self.dbs = {"A": tmp_path / "a" / "trial.crfdb", "B": tmp_path / "b" / "trial.crfdb"}
        self.outbox = tmp_path / "outbox"
        self.pws = dict(PWS)
        self.code: str | None = None  # the one-time code of the packet secret's last renewal (i18-secret)
        site, actor, _code = Site.initialize(self.dbs["A"], admin_username="admin", admin_full_name="Ada Admin",
                                             admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
        with site:
            admin = Workspace(site, actor)
            make_user(admin, "dr.house", "investigator", DOCTOR_PW)
            make_user(admin, "nurse.joy", "nurse", NURSE_PW)
            doctor = _sign_in(site, "dr.house")
            doctor.subjects.register("ABC", 1980, "F")
            doctor.entry.save_values(FormRef("01-001", "SCR", "renal_function"), {("lb", 0, "LBDAT"): "20/11/2026"})
        fork(self.dbs["A"], self.dbs["B"], 2, "admin", ADMIN_PW, clock)

    def open(self, which: str, user: str) -> tuple[Site, Workspace]:
        site = Site.open(self.dbs[which], clock=self.clock)
        return site, Workspace.sign_in(site, user, self.pws[user])

    def send(self, src: str, dst: str, user: str = "admin") -> Any:
        from msc_sle_crf.sync.service import Packets

        site, ws = self.open(src, user)
        with site:
            result = Packets(ws.ctx, ws.study).export(self.outbox / src)
        assert result is not None
        site, ws = self.open(dst, user)
        with site:
            return Packets(ws.ctx, ws.study).import_file(result.path, code=self.code).result

    def verify(self, which: str) -> None:
        site, ws = self.open(which, "admin")
        with site:
            report = ws.integrity.verify(full=True)
        assert report.audit.ok, (which, report.audit.first_bad_id, report.audit.problem)
        assert not report.unexplained, (which, [u.line() for u in report.unexplained])


def test_an_account_made_and_a_password_changed_after_the_fork_travel_and_their_records_apply(
        tmp_path: Path, clock: FakeClock) -> None:
    sites = _Sites(tmp_path, clock)
    # on WS-02, after the fork: a new investigator (by the administrator), and dr.house changes his password (his
    # signing key changes)
    site, admin = sites.open("B", "admin")
    with site:
        sites.pws["dr.new"] = make_user(admin, "dr.new", "investigator")
    site, doctor = sites.open("B", "dr.house")
    with site:
        doctor.accounts.change_password(DOCTOR_PW, "pw-new.house-2027")
    sites.pws["dr.house@B"] = "pw-new.house-2027"
    site = Site.open(sites.dbs["B"], clock=clock)
    with site:
        clock.advance(60)
        house = Workspace.sign_in(site, "dr.house", "pw-new.house-2027")
        house.entry.save_values(FormRef("01-001", "SCR", "renal_function"), {("lb", 0, "CREAT"): "91"},
                                reason="lab report")
        house.entry.mark_complete(FormRef("01-001", "SCR", "renal_function"))  # and signs with his new key
        house.lifecycle.sign(FormRef("01-001", "SCR", "renal_function"), "dr.house", "pw-new.house-2027",
                             "approval")
        new = Workspace.sign_in(site, "dr.new", sites.pws["dr.new"])
        registered = new.subjects.register("NEW", 1990, "M").subject.subject_number
        new.entry.save_values(FormRef(registered, "SCR", "renal_function"), {("lb", 0, "LBDAT"): "21/11/2026"})
    # before: "whose signature is not dr.house's (... signed with a key this workstation did not bind ...)"
    result = sites.send("B", "A")
    assert result.copied > 0
    site, house_a = sites.open("A", "dr.house")  # his own password still opens WS-01 (keys stay per workstation)
    with site:
        [signature] = house_a.lifecycle.signatures(FormRef("01-001", "SCR", "renal_function"))
        assert signature.valid, signature
        assert house_a.entry.open_form(FormRef("01-001", "SCR", "renal_function")).state.value(
            ("lb", 0, "CREAT")) == 91
        assert [s.subject_number for s in house_a.subjects.list()] == ["01-001", registered]
        house_a.entry.save_values(FormRef("01-001", "SCR", "renal_function"), {("lb", 0, "CREAT"): "92"},
                                  reason="re-read on WS-01")  # signed with his WS-01 key: still his there
        directory = house_a.ctx.key_directory()
        assert "WS-02" in directory.accounts["dr.new"].carried and directory.accounts["dr.new"].current is None
    # the account is not enrolled here: it signs in on the workstation that made it (decision in the docs)
    from msc_sle_crf.errors import AuthenticationError

    site = Site.open(sites.dbs["A"], clock=clock)
    with site, pytest.raises(AuthenticationError):
        Workspace.sign_in(site, "dr.new", sites.pws["dr.new"])
    sites.verify("A")
    sites.verify("B")
    assert sites.send("A", "B").copied > 0  # and back
    sites.verify("B")
    # enrolled on WS-01 too (its own password and keys there): each workstation's records with its own keys
    site, admin_a = sites.open("A", "admin")
    with site:
        password_a = make_user(admin_a, "dr.new", "investigator", "pw-wen.rd-on-a-2026")
        new_a = Workspace.sign_in(site, "dr.new", password_a)
        assert new_a.subjects.register("ONA", 1991, "F").subject.subject_number == "01-002"
    site = Site.open(sites.dbs["B"], clock=clock)
    with site:
        clock.advance(60)
        Workspace.sign_in(site, "dr.new", sites.pws["dr.new"]).subjects.register("ONB", 1992, "M")
    assert sites.send("A", "B").copied > 0
    assert sites.send("B", "A").copied > 0
    sites.verify("A")
    sites.verify("B")


def test_a_nurse_cannot_mint_an_account_or_a_key_another_workstation_accepts(tmp_path: Path, clock: FakeClock) -> None:
    """An insider on WS-02 with her own password (so the database key and her signing key) writes, through the
    program's own writer, an account record and a key for a colleague: WS-01 refuses the packet, names why."""
    import json as _json

    from msc_sle_crf import audit
    from msc_sle_crf.security.personal import PersonalKeys
    from msc_sle_crf.store.site import keys_json
    from msc_sle_crf.sync import packets as P

    for what in ("user_add", "key_bind"):
        sites = _Sites(tmp_path / what, clock)
        fake = PersonalKeys.generate()
        site, _nurse = sites.open("B", "nurse.joy")
        with site, site.store.write() as session:  # type: ignore[union-attr]
            entry = audit.AuditEntry(
                audit.Action(what), "nurse.joy", "nurse", item="nurse.fake" if what == "user_add" else "dr.house",
                new_value=_json.dumps({"username": "nurse.fake", "full_name": "X", "role": "admin",
                                       "keys": keys_json(fake.publics())}))
            audit.append_many(session, clock, site.workstation, [entry], site.signer("nurse.joy"))
        with pytest.raises(P.PacketRefused) as refused:
            sites.send("B", "A", "nurse.joy")
        line = refused.value.message()
        assert "\n" not in line and ("may not create or disable accounts" in line
                                     or "may not bind keys to 'dr.house'" in line), line
        site, admin = sites.open("A", "admin")
        with site:
            assert "nurse.fake" not in admin.ctx.key_directory().accounts
            assert len(admin.ctx.key_directory().accounts["dr.house"].carried) == 0
