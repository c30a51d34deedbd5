"""Issue 18, follow-up: the packet key is the site's packet secret, not the database key. "Rotate keys" on one
workstation (the administrator's real path) leaves packets going both ways; a site forked before the secret existed
takes the key its workstations already share; an outsider with a packet and no database reads nothing; the secret is
never in clear in the database, the trail or the packet, and a changed secret is named by verify."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import AuditEvent, SiteSetting
from msc_sle_crf.sync import packets as P
from msc_sle_crf.sync.service import Packets

from .conftest import ADMIN_PW, FAST_KDF, make_user
from .helpers import workstations as H

R1 = FormRef("01-001", "SCR", "renal_function")
CREAT = ("lb", 0, "CREAT")
LBDAT = ("lb", 0, "LBDAT")
DR_PW = "quartz-meadow-71-dr"


@dataclass
class Two:
    a_db: Path
    b_db: Path
    clock: FakeClock
    outbox: Path
    code: str | None = None

    def open(self, which: str, user: str = "dr.a") -> tuple[Site, Workspace]:
        site = Site.open(self.a_db if which == "A" else self.b_db, clock=self.clock)
        return site, Workspace.sign_in(site, user, ADMIN_PW if user == "admin" else DR_PW)

    def edit(self, which: str, text: str) -> None:
        site, ws = self.open(which)
        with site:
            self.clock.advance(60)
            ws.entry.save_item(R1, CREAT, text, reason=f"re-read on {which}")

    def send(self, src: str, dst: str, code: str | None = None) -> P.ImportResult:
        site, ws = self.open(src)
        with site:
            result = Packets(ws.ctx, ws.study).export(self.outbox / src)
        assert result is not None
        site, ws = self.open(dst)
        with site:
            return Packets(ws.ctx, ws.study).import_file(result.path, code=code).result

    def value(self, which: str) -> object:
        site, ws = self.open(which)
        with site:
            return ws.entry.open_form(R1).state.value(CREAT)

    def rotate(self, which: str) -> bytes:
        """The administrator's "Rotate keys" (what the admin screen and ``rotate-keys`` call); the new key. The
        one-time code of the packet secret it renewed is kept in ``self.code``."""
        site, admin = self.open(which, "admin")
        with site:
            before = admin.ctx.store.key
            admin.accounts.rotate_keys()
            after = admin.ctx.store.key
            self.code = admin.accounts.take_packet_code()
        assert after != before and self.code
        return after

    def verify(self, which: str) -> None:
        site, ws = self.open(which, "admin")
        with site:
            report = ws.integrity.verify(full=True)
        assert report.audit.ok, (which, report.audit.first_bad_id, report.audit.problem)
        assert not report.unexplained, (which, [u.line() for u in report.unexplained])


def _site(tmp_path: Path, clock: FakeClock) -> Path:
    a_db = tmp_path / "a" / "trial.crfdb"
    site, actor, _code = Site.initialize(a_db, admin_username="admin", admin_full_name="Ada Admin",
                                         admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
    with site:
        make_user(Workspace(site, actor), "dr.a", "investigator", DR_PW)
        doctor = Workspace.sign_in(site, "dr.a", DR_PW)
        doctor.subjects.register("ABC", 1980, "F")
        doctor.entry.save_values(R1, {LBDAT: "20/11/2026", CREAT: "88"})
    return a_db


@pytest.fixture
def two(tmp_path: Path) -> Iterator[Two]:
    """WS-01 and WS-02 made with the real ``workstation add`` / ``workstation open``."""
    clock = FakeClock()
    a_db = _site(tmp_path, clock)
    b_db = tmp_path / "b" / "trial.crfdb"
    H.fork(a_db, b_db, 2, "admin", ADMIN_PW, clock)
    yield Two(a_db, b_db, clock, tmp_path / "outbox")


def test_packets_go_both_ways_after_rotating_keys_on_one_workstation(two: Two) -> None:
    two.rotate("B")  # (i18-secret: it renews the packet secret; A takes it with the one-time code)
    two.edit("B", "95")
    assert two.send("B", "A", two.code).copied > 0  # before: "it does not decrypt with this site's key"
    assert two.value("A") == 95
    two.edit("A", "97")
    assert two.send("A", "B").copied > 0
    assert two.value("B") == 97
    two.rotate("A")  # and once more on the other side
    two.edit("A", "98")
    assert two.send("A", "B", two.code).copied > 0
    assert two.value("B") == 98
    two.verify("A")
    two.verify("B")


def _secret(two: Two, which: str) -> tuple[bytes, str, bytes]:
    from msc_sle_crf.sync import secret

    site, ws = two.open(which, "admin")
    with site, ws.ctx.read() as session:
        value = session.get(SiteSetting, "packet_secret")
        key = secret.read(session, ws.ctx.store.key, site.keyfile.db_id)
        assert value is not None and key is not None
        return key, value.value, ws.ctx.store.key


def test_the_secret_is_made_at_the_first_fork_copied_and_never_in_clear(two: Two) -> None:
    from msc_sle_crf.security import packet_secret as PS

    secret_a, stored_a, key_a = _secret(two, "A")
    secret_b, _stored_b, _ = _secret(two, "B")
    assert secret_a == secret_b and len(secret_a) == 32
    assert secret_a != P.packet_key(key_a, "x") and secret_a.hex() not in stored_a
    site, ws = two.open("A", "admin")
    with site, ws.ctx.read() as session:
        records = session.execute(select(AuditEvent.action, AuditEvent.new_value, AuditEvent.username)
                                  .where(AuditEvent.action.in_(("packet_secret", "workstation_add")))
                                  .order_by(AuditEvent.id)).all()
    assert [r[0] for r in records] == ["packet_secret", "workstation_add"]  # made at the first fork, audited
    assert PS.fingerprint(secret_a) in (records[0][1] or "") and records[0][2] == "admin"
    new_key = two.rotate("A")
    secret_after, stored_after, _ = _secret(two, "A")
    # i18-secret: the rotation renewed the secret; the older generation is kept, wrapped under the new key only
    assert secret_after != secret_a and stored_after != stored_a and secret_a.hex() not in stored_after
    assert PS.unwrap(stored_after, key_a, site.keyfile.db_id) is None  # the old key's wraps are gone
    gens = PS.parse(stored_after)["gens"]  # type: ignore[index]
    assert [len(g["wraps"]) for g in gens] == [1, 1]
    assert [s for _, s in PS.unwrap_all(stored_after, new_key, site.keyfile.db_id) or []] == [secret_a, secret_after]
    # the packet: nothing of the data in clear; without the database (its secret) it opens with no key one could try
    two.edit("B", "95")
    site, ws = two.open("B")
    with site:
        result = Packets(ws.ctx, ws.study).export(two.outbox / "B")
    assert result is not None
    data = result.path.read_bytes()
    assert b"re-read on B" not in data and b"CREAT" not in data and b"dr.a" not in data
    end = data.find(b"\n", len(P.MAGIC))
    for guess in (P.packet_key(key_a, site.keyfile.db_id), P.packet_key(new_key, site.keyfile.db_id), bytes(32)):
        with pytest.raises(P.PacketRefused, match="does not decrypt"):
            P.open_packet(data, packet_key=guess, expected_db_id=site.keyfile.db_id, name="x")
    assert AESGCM(secret_a).decrypt(data[end + 1:end + 13], data[end + 13:], data[:end + 1])


def test_a_site_forked_before_the_secret_keeps_its_packets_and_then_survives_rotation(tmp_path: Path) -> None:
    """Forks of the first version (no secret; here the copy-made fork of the test helper): each side takes, at its
    first packet, the key they already share as its secret, audited; then a rotation changes nothing."""
    clock = FakeClock()
    a_db = _site(tmp_path, clock)
    b_db = tmp_path / "b" / "trial.crfdb"
    H._copy_fork(a_db, b_db, 2, "admin", ADMIN_PW, clock)
    two = Two(a_db, b_db, clock, tmp_path / "outbox")
    two.edit("B", "95")
    assert two.send("B", "A").copied > 0
    secret_a, _, key = _secret(two, "A")
    secret_b, _, _ = _secret(two, "B")
    with Site.open(a_db, clock=clock) as site:
        db_id = site.keyfile.db_id
    assert secret_a == secret_b == P.packet_key(key, db_id)  # the first version's key, kept as the secret
    two.rotate("B")  # (i18-secret: a new generation; A takes it with the one-time code)
    two.edit("A", "96")
    assert two.send("A", "B").copied > 0
    two.edit("B", "97")
    assert two.send("B", "A", two.code).copied > 0
    assert two.value("A") == two.value("B") == 97
    two.verify("A")
    site, ws = two.open("B", "admin")
    with site:
        report = ws.integrity.verify(full=True)
    # (the helper's copy-made identity settings are not workstation_open records: only the secret is looked at)
    assert report.audit.ok and not [u for u in report.unexplained if "packet_secret" in u.line()]


def test_a_secret_changed_behind_the_trails_back_is_named_by_verify_and_refused(two: Two) -> None:
    from msc_sle_crf.errors import StoreError
    from msc_sle_crf.security import packet_secret as PS

    site, ws = two.open("B", "admin")
    with site:
        other = PS.stored_value(PS.new_secret(), ws.ctx.store.key, site.keyfile.db_id, "random")
        with ws.ctx.store.write(data=False) as session:
            session.execute(SiteSetting.__table__.update().where(SiteSetting.key == "packet_secret")
                            .values(value=other))
        report = ws.integrity.verify(full=True)
        assert any("packet_secret" in u.line() for u in report.unexplained)
        with ws.ctx.store.write(data=False) as session:
            session.execute(SiteSetting.__table__.update().where(SiteSetting.key == "packet_secret")
                            .values(value=other.replace('"fp":"', '"fp":"0')))
    two.edit("B", "95")
    site, ws = two.open("B")
    with site, pytest.raises(StoreError) as info:
        Packets(ws.ctx, ws.study).export(two.outbox / "B")
    assert "packet secret does not open" in info.value.message() and "\n" not in info.value.message()
    assert not (two.outbox / "B").exists() or not list((two.outbox / "B").iterdir())


def test_a_site_with_a_hub_made_before_the_secret_takes_the_key_the_hub_already_has(tmp_path: Path) -> None:
    """A hub made by the first version holds the site's database key of that day (its key file): the site, never
    forked, must not make a random secret the hub could not know."""
    from msc_sle_crf.audit import Action
    from msc_sle_crf.sync import secret

    clock = FakeClock()
    a_db = _site(tmp_path, clock)
    with Site.open(a_db, clock=clock) as site:
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)
        admin.ctx.audit_alone(Action.BACKUP, detail="hub init: the whole database and its trail -> crf@db:5432/hub")
        doctor = Workspace.sign_in(site, "dr.a", DR_PW)
        doctor.entry.save_item(R1, CREAT, "95", reason="re-read")
        assert Packets(doctor.ctx, doctor.study).export(tmp_path / "out") is not None
        with admin.ctx.read() as session:
            made = secret.read(session, admin.ctx.store.key, site.keyfile.db_id)
        assert made == P.packet_key(admin.ctx.store.key, site.keyfile.db_id)
