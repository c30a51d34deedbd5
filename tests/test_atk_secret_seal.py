"""Attack on i18-secret (helper h55, branch atk-secret): the seal's "by" and "utc" are not bound to anything.

The insider: nurse.b, a research nurse of the site, copied WS-02's database and key file while enabled (so she holds
every generation of the packet secret WS-02 held then, and the first version's key), and copies any packet she finds
on the site's USB sticks. WS-01's administrator disables her: WS-01 renews the packet secret (generation G2, sealed
under a one-time code given to the site's staff).

The hole: a packet's header names its generation and carries the seal ``{by, utc, nonce, ct}``. The seal's AES-GCM
binds only the secret, the fingerprint and the site's db_id, not ``by`` nor ``utc``; the header itself is the
packet's associated data, but under *whichever key decrypts it* (``sync.secret.import_keys`` tries every generation
held, then the first version's key), so anyone holding an older generation can write any header. ``utc`` decides
where a received generation goes in the list (``packet_secret.with_generation``: "a generation received after a
newer one does not become the current one"), and the newest in the list is what the workstation exports under.

So she re-encrypts a packet WS-02 has already applied (WS-01's packet of before her disable: she reads it with G1)
under G1, with a header naming G2 and G2's genuine seal (copied from WS-01's first packet after the disable) whose
``utc`` she changed. WS-02's honest user, asked for the code by that packet, types it: the import is a duplicate
("already applied"), and commits, with G2 stored at the place she chose.

- early ``utc``: G2 is put below an older generation WS-02 had renewed itself (a "Rotate keys" on WS-02 before her
  copy): WS-02 goes on exporting under that one, which her copy holds; WS-02's packets carry the copies of WS-01's
  records, so she reads what WS-01 wrote after her disable (test 1).
- far-future ``utc``: every later renewal on WS-02, the disable of her account there included, is put below G2 and
  never becomes current: WS-02 keeps exporting under G2 (test 2; with the copy of WS-02 she may take in the window the
  docs already name, between WS-02 typing the code and WS-02 disabling her, she reads WS-02's packets after her
  disable there).

- far-future ``utc`` on a generation she already holds that WS-01 has not received yet (WS-02's own rotation before
  her copy): once WS-01's user types WS-02's code for her re-wrapped copy of WS-02's genuine packet, that generation
  becomes WS-01's current one, above WS-01's renewal at her disable: she reads WS-01's own packets (test 3).

``verify`` (full) on the attacked workstation names nothing: the generations are all announced, only their order
is hers. Each test asserts the behaviour the design promises and FAILS while the hole is there; the genuine-date
runs of the same steps (the controls) pass."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlcipher3.dbapi2 as sqlcipher
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.security import packet_secret as PS
from msc_sle_crf.security.keyslots import KIND_USER, KeySlotFile
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.sync import packets as P
from msc_sle_crf.sync.service import Packets

from .conftest import ADMIN_PW, FAST_KDF, make_user
from .helpers import workstations as H

R1 = FormRef("01-001", "SCR", "renal_function")
CREAT = ("lb", 0, "CREAT")
LBDAT = ("lb", 0, "LBDAT")
DR_PW = "quartz-meadow-71-dr"
NURSE_PW = "copper-lantern-58-nu"


@dataclass
class Two:
    dbs: dict[str, Path]
    clock: FakeClock
    outbox: Path

    def open(self, which: str, user: str = "dr.a") -> tuple[Site, Workspace]:
        site = Site.open(self.dbs[which], clock=self.clock)
        return site, Workspace.sign_in(site, user, {"admin": ADMIN_PW, "nurse.b": NURSE_PW}.get(user, DR_PW))

    def edit(self, which: str, text: str) -> None:
        site, ws = self.open(which)
        with site:
            self.clock.advance(60)
            ws.entry.save_item(R1, CREAT, text, reason=f"re-read on {which}")

    def export(self, which: str) -> Path:
        site, ws = self.open(which)
        with site:
            result = Packets(ws.ctx, ws.study).export(self.outbox / which)
        assert result is not None
        return result.path

    def load(self, which: str, path: Path, code: str | None = None) -> P.ImportResult:
        site, ws = self.open(which)
        with site:
            return Packets(ws.ctx, ws.study).import_file(path, code=code).result

    def value(self, which: str) -> object:
        site, ws = self.open(which)
        with site:
            return ws.entry.open_form(R1).state.value(CREAT)

    def disable(self, which: str, user: str) -> str:
        site, admin = self.open(which, "admin")
        with site:
            self.clock.advance(60)
            admin.accounts.disable_user(user, "left the unit with a copy")
            code = admin.accounts.take_packet_code()
        assert code
        return code

    def rotate(self, which: str) -> str:
        site, admin = self.open(which, "admin")
        with site:
            self.clock.advance(60)
            admin.accounts.rotate_keys()
            code = admin.accounts.take_packet_code()
        assert code
        return code

    def copy_for_her(self, which: str, usb: Path) -> Path:
        """Her copy of a workstation's database and key file (she was enabled there)."""
        usb.mkdir(parents=True)
        dest = usb / "trial.crfdb"
        shutil.copy2(self.dbs[which], dest)
        shutil.copy2(KeySlotFile.path_for(self.dbs[which]), KeySlotFile.path_for(dest))
        return dest


@pytest.fixture
def two(tmp_path: Path) -> Iterator[Two]:
    clock = FakeClock()
    a_db = tmp_path / "a" / "trial.crfdb"
    site, actor, _code = Site.initialize(a_db, admin_username="admin", admin_full_name="Ada Admin",
                                         admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
    with site:
        admin = Workspace(site, actor)
        make_user(admin, "dr.a", "investigator", DR_PW)
        make_user(admin, "nurse.b", "nurse", NURSE_PW)
        doctor = Workspace.sign_in(site, "dr.a", DR_PW)
        doctor.subjects.register("ABC", 1980, "F")
        doctor.entry.save_values(R1, {LBDAT: "20/11/2026", CREAT: "88"})
        Workspace.sign_in(site, "nurse.b", NURSE_PW)  # her personal keys
    b_db = tmp_path / "b" / "trial.crfdb"
    H.fork(a_db, b_db, 2, "admin", ADMIN_PW, clock)
    yield Two({"A": a_db, "B": b_db}, clock, tmp_path / "outbox")


def her_keys(copy: Path) -> list[bytes]:
    """Every key her copy gives her, with her own tools (the program's refusal of a disabled account plays no
    part): her password opens her key slot, the database key opens the file, each generation unwraps."""
    keyfile = KeySlotFile.load(KeySlotFile.path_for(copy))
    db_key = keyfile.unwrap(KIND_USER, "nurse.b", NURSE_PW.encode("utf-8"))
    assert db_key is not None, "her slot is in her copy"
    conn = sqlcipher.connect(str(copy))
    try:
        conn.execute(f"PRAGMA key = \"x'{db_key.hex()}'\"")
        (value,) = conn.execute("SELECT value FROM site_setting WHERE key = ?", (PS.SETTING,)).fetchone()
    finally:
        conn.close()
    held = PS.unwrap_all(value, db_key, keyfile.db_id)
    assert held
    return [s for _, s in held] + [PS.legacy_key(db_key, keyfile.db_id)]


def reads(data: bytes, keys: list[bytes]) -> P.Packet | None:
    """The packet opened with one of her keys (None: none decrypts it)."""
    header = P.header_of(data)
    assert header is not None
    try:
        return P.open_packet(data, packet_key=keys, expected_db_id=str(header["db_id"]), name="x")
    except P.PacketRefused:
        return None


def forge(old: Path, keys: list[bytes], genuine: Path, utc: str | None, out: Path,
          extra: dict[str, str] | None = None) -> Path:
    """``old`` (a packet she can decrypt) re-encrypted under one of her keys, its header naming the generation of
    ``genuine`` with that packet's seal, whose ``utc`` she changed (None: left as it is, the control). Nothing else
    needs a key she lacks. ``extra``: more fields she adds to the seal."""
    data = old.read_bytes()
    end = data.find(b"\n", len(P.MAGIC))
    aad, rest = data[:end + 1], data[end + 1:]
    plain, used = None, b""
    for key in keys:
        try:
            plain, used = AESGCM(key).decrypt(rest[:12], rest[12:], aad), key
            break
        except InvalidTag:  # not this key: try her next one
            continue
    assert plain is not None, "she reads the old packet"
    target = P.header_of(genuine.read_bytes())
    header = P.header_of(data)
    assert target is not None and header is not None and isinstance(target.get("seal"), dict)
    sealed = {**target["seal"], "utc": utc or target["seal"]["utc"], **(extra or {})}
    header = {**header, "key": target["key"], "seal": sealed}
    new_aad = P.MAGIC + json.dumps(header, sort_keys=True).encode("ascii") + b"\n"
    nonce = os.urandom(12)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(new_aad + nonce + AESGCM(used).encrypt(nonce, plain, new_aad))
    return out


def try_load(s: Two, ws: str, path: Path, code: str | None) -> None:
    """Her packet given to an honest user who types the code: refused since the fix (it names a generation it is not
    encrypted with), or, where it would open, applied; what follows must hold either way."""
    with contextlib.suppress(P.PacketRefused):
        s.load(ws, path, code)


@pytest.mark.parametrize("utc", [None, "2000-01-01T00:00:00Z"], ids=["genuine-date", "dated-early"])
def test_a_seal_dated_early_keeps_ws02_exporting_under_a_generation_her_copy_holds(
        two: Two, tmp_path: Path, utc: str | None) -> None:
    s = two
    s.edit("A", "90")
    before = s.export("A")  # WS-01's packet of before her disable: WS-02 applies it
    assert s.load("B", before).copied > 0
    code_b = s.rotate("B")  # WS-02's own "Rotate keys" (a renewal on WS-02, sealed, dated now)
    assert s.load("A", s.export("B"), code_b).copied > 0
    keys = her_keys(s.copy_for_her("B", tmp_path / "usb1"))  # her copy: G1, WS-02's renewal
    s.clock.advance(3600)
    code_a = s.disable("A", "nurse.b")  # WS-01 renews: G2, sealed under the code the staff are given
    s.edit("A", "95")  # trial data written after her disable
    after = s.export("A")
    assert reads(after.read_bytes(), keys) is None  # as designed: she cannot read it
    # her packet on the stick: WS-01's old packet, under G1, naming G2 with its genuine seal dated 2000
    forged = forge(before, keys, after, utc, tmp_path / "stick" / before.name)
    # WS-02's honest user is asked for the code by it, types it: "already applied", and the import commits
    try_load(s, "B", forged, code_a)
    assert s.load("B", after, code_a).copied > 0  # WS-01's packet after the disable (WS-02 holds G2 now)
    assert s.value("B") == 95
    from_b = s.export("B")  # WS-02's next packet: it carries the copies of WS-01's records
    stolen = reads(from_b.read_bytes(), keys)
    read = [r["new_value"] for r in stolen.records if r.get("item") == "CREAT"] if stolen else []
    assert stolen is None, f"she read WS-02's packet after her disable, with WS-01's values {read}"


@pytest.mark.parametrize("utc", [None, "9999-12-31T23:59:59Z"], ids=["genuine-date", "dated-future"])
def test_a_seal_dated_in_the_future_outlasts_the_disable_on_ws02(two: Two, tmp_path: Path, utc: str | None) -> None:
    s = two
    s.edit("A", "90")
    before = s.export("A")
    assert s.load("B", before).copied > 0
    keys = her_keys(s.copy_for_her("B", tmp_path / "usb1"))  # G1
    s.clock.advance(3600)
    code_a = s.disable("A", "nurse.b")
    s.edit("A", "95")
    after = s.export("A")
    forged = forge(before, keys, after, utc, tmp_path / "stick" / before.name)
    try_load(s, "B", forged, code_a)
    assert s.load("B", after, code_a).copied > 0
    # the window the docs name: WS-02 typed the code but has not disabled her yet; she copies WS-02 again
    keys = her_keys(s.copy_for_her("B", tmp_path / "usb2"))
    s.clock.advance(3600)
    s.disable("B", "nurse.b")  # the documented answer: disable her on WS-02 too (re-key, new generation)
    s.edit("B", "99")  # trial data written on WS-02 after her disable there
    from_b = s.export("B")
    header = P.header_of(from_b.read_bytes()) or {}
    assert (header.get("seal") or {}).get("by") == "WS-02", \
        f"WS-02 exports under {header.get('key')} sealed by {(header.get('seal') or {}).get('by')}, not its renewal"
    assert reads(from_b.read_bytes(), keys) is None


@pytest.mark.parametrize("utc", [None, "9999-12-31T23:59:59Z"], ids=["genuine-date", "dated-future"])
def test_a_generation_she_holds_dated_in_the_future_becomes_ws01s_current_one(
        two: Two, tmp_path: Path, utc: str | None) -> None:
    """WS-02 rotated its keys (a renewal sealed under WS-02's code) before her copy; WS-01 has not typed that code
    yet when it disables her. She re-wraps WS-02's genuine packet under WS-02's generation (hers too), its seal dated
    9999. WS-01's user types WS-02's code (the one the site passed on for WS-02's rotation): WS-02's generation becomes
    WS-01's current one, above WS-01's own renewal at her disable, and she reads what WS-01 writes after it."""
    s = two
    code_b = s.rotate("B")  # WS-02's renewal, sealed under its code, dated now
    s.edit("B", "91")
    from_b = s.export("B")  # under WS-02's renewal (its seal in the header)
    keys = her_keys(s.copy_for_her("B", tmp_path / "usb1"))  # her copy: G1 and WS-02's renewal
    s.clock.advance(3600)
    s.disable("A", "nurse.b")  # WS-01's renewal at her disable, dated later than WS-02's
    forged = forge(from_b, keys, from_b, utc, tmp_path / "stick" / from_b.name)
    try_load(s, "A", forged, code_b)  # WS-01's user types WS-02's code, as the refusal asks
    if s.value("A") != 91:  # hers refused: the genuine packet comes next
        assert s.load("A", from_b, code_b).copied > 0
    assert s.value("A") == 91
    s.edit("A", "95")  # trial data written on WS-01 after her disable
    after = s.export("A")
    stolen = reads(after.read_bytes(), keys)
    read = [r["new_value"] for r in stolen.records if r.get("item") == "CREAT"] if stolen else []
    assert stolen is None, f"she read WS-01's packet after her disable: {read}"


def test_fields_she_adds_to_the_seal_ride_in_every_later_packet_of_ws02(two: Two, tmp_path: Path) -> None:
    """The seal's other fields are hers too, and WS-02 stores the seal as it came and puts it in the header of every
    packet it writes under that generation: 4 MiB she adds (any size up to the 2 GiB packet limit) make every WS-02
    packet from then on 4 MiB larger, for good (no command removes a generation or its seal; a later renewal on
    WS-02 does not help where the date is hers too, test 2). The honest expectation: a header of a few hundred bytes."""
    s = two
    s.edit("A", "90")
    before = s.export("A")
    assert s.load("B", before).copied > 0
    keys = her_keys(s.copy_for_her("B", tmp_path / "usb1"))
    s.clock.advance(3600)
    code_a = s.disable("A", "nurse.b")
    s.edit("A", "95")
    after = s.export("A")
    forged = forge(before, keys, after, None, tmp_path / "stick" / before.name, extra={"note": "x" * (4 << 20)})
    try_load(s, "B", forged, code_a)
    assert s.load("B", after, code_a).copied > 0
    for text in ("97", "98"):
        s.edit("B", text)
        data = s.export("B").read_bytes()
        header_bytes = data.find(b"\n", len(P.MAGIC))
        assert header_bytes < 64 * 1024, f"WS-02's packet header is {header_bytes} bytes ({len(data)} in all)"


def test_ws02s_own_renewal_is_current_even_when_ws01s_clock_ran_ahead(two: Two, tmp_path: Path) -> None:
    """No forgery: WS-01's clock runs a day ahead when its administrator disables her (the seal's date is WS-01's
    clock). WS-02 types the code; in the window the docs name she copies WS-02; then WS-02's administrator disables
    her there too, on WS-02's right clock. WS-02's renewal is dated before WS-01's seal, so it is put below it and
    WS-02 goes on exporting under WS-01's generation, which her second copy holds. (The account rule already says an
    act made here counts as later than every copy already here; the generations' order does not.)"""
    s = two
    s.clock.advance(86400)  # WS-01's clock: a day ahead
    code_a = s.disable("A", "nurse.b")
    s.edit("A", "95")
    after = s.export("A")
    s.clock.advance(-86400 + 3600)  # WS-02's clock: right, an hour later in real time
    assert s.load("B", after, code_a).copied > 0
    keys = her_keys(s.copy_for_her("B", tmp_path / "usb2"))  # the documented window
    s.clock.advance(3600)
    s.disable("B", "nurse.b")  # the documented answer: disable her on WS-02 too
    s.edit("B", "99")
    from_b = s.export("B")
    header = P.header_of(from_b.read_bytes()) or {}
    assert (header.get("seal") or {}).get("by") == "WS-02", \
        f"WS-02 exports under {header.get('key')} sealed by {(header.get('seal') or {}).get('by')}, not its renewal"
    assert reads(from_b.read_bytes(), keys) is None
