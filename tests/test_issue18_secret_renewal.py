"""Issue 18, i18-secret: the site's packet secret is renewed at a disable (and at "Rotate keys"), with a one-time
code shown once to the administrator (docs/workstations.md, "The packet secret after a disable").

The insider: a nurse disabled on WS-01 who kept a copy of WS-02's database file (and its key file), taken while she
was enabled, opens it with her own password and unwraps every packet secret it holds, as the program would. She must
not read a packet WS-01 writes after her disable. WS-02, given the code, takes the new generation and its own next
packet is under it; a packet from before the renewal still imports; without the code or with a wrong one the packet
is refused in one line and nothing changes; the code is written nowhere; verify stays clean, and names a generation
planted in the setting."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import Lang
from msc_sle_crf.security import packet_secret as PS
from msc_sle_crf.security.keyslots import KeySlotFile, normalize_recovery_code
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
NURSE_PW = "copper-lantern-58-nu"


@dataclass
class Site3:
    dbs: dict[str, Path]
    clock: FakeClock
    outbox: Path
    codes: list[str] = field(default_factory=list)

    def open(self, which: str, user: str = "dr.a") -> tuple[Site, Workspace]:
        site = Site.open(self.dbs[which], clock=self.clock)
        pw = {"admin": ADMIN_PW, "nurse.b": NURSE_PW}.get(user, DR_PW)
        return site, Workspace.sign_in(site, user, pw)

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

    def state(self, which: str) -> tuple[int, str]:
        site, ws = self.open(which, "admin")
        with site, ws.ctx.read() as session:
            row = session.get(SiteSetting, PS.SETTING)
            assert row is not None
            return int(session.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.in_(
                ("packet_secret", "packet_import")))).scalar_one()), row.value

    def verify(self, which: str) -> list[str]:
        site, ws = self.open(which, "admin")
        with site:
            report = ws.integrity.verify(full=True)
        assert report.audit.ok, (which, report.audit.first_bad_id, report.audit.problem)
        return [u.line() for u in report.unexplained]


@pytest.fixture
def site3(tmp_path: Path) -> Iterator[Site3]:
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
        Workspace.sign_in(site, "nurse.b", NURSE_PW)  # her personal keys: rotation can seal to every account
    dbs = {"A": a_db}
    for n, which in ((2, "B"), (3, "C")):
        dbs[which] = tmp_path / which.lower() / "trial.crfdb"
        H.fork(a_db, dbs[which], n, "admin", ADMIN_PW, clock)
    yield Site3(dbs, clock, tmp_path / "outbox")


def _her_keys(copy: Path, clock: FakeClock) -> list[bytes]:
    """Every key her copy of WS-02 gives her, as the program would: her password opens the database; each generation
    of the packet secret unwraps with its key; and the first version's key from it."""
    with Site.open(copy, clock=clock) as site:
        ws = Workspace.sign_in(site, "nurse.b", NURSE_PW)
        db_key, db_id = ws.ctx.store.key, site.keyfile.db_id
        with ws.ctx.read() as session:
            row = session.get(SiteSetting, PS.SETTING)
            assert row is not None
            held = PS.unwrap_all(row.value, db_key, db_id)
    assert held
    return [s for _, s in held] + [PS.legacy_key(db_key, db_id)]


def _disable(s: Site3, which: str, user: str) -> str:
    site, admin = s.open(which, "admin")
    with site:
        admin.accounts.disable_user(user, "left the unit with a copy")
        code = admin.accounts.take_packet_code()
        assert admin.accounts.take_packet_code() is None  # shown once: the service forgets it
    assert code
    s.codes.append(code)
    return code


def test_her_copy_reads_nothing_after_the_disable_and_the_code_carries_the_new_secret(site3: Site3,
                                                                                     tmp_path: Path) -> None:
    s = site3
    # her copy of WS-02 while she is enabled (the database and its key file)
    copy = tmp_path / "usb" / "trial.crfdb"
    copy.parent.mkdir()
    shutil.copy2(s.dbs["B"], copy)
    shutil.copy2(KeySlotFile.path_for(s.dbs["B"]), KeySlotFile.path_for(copy))
    s.edit("B", "91")
    before = s.export("B")  # a packet of WS-02 under the generation of before
    code = _disable(s, "A", "nurse.b")
    # WS-01 still imports WS-02's packet of before the renewal (older generations stay readable)
    assert s.load("A", before).copied > 0
    s.edit("A", "95")
    after = s.export("A")
    data = after.read_bytes()
    header = P.header_of(data)
    assert header is not None and isinstance(header.get("seal"), dict)  # it names its generation and carries it
    # the insider: every key her copy gives her fails on the packet written after her disable
    keys = _her_keys(copy, s.clock)
    assert header["key"] not in [PS.fingerprint(k) for k in keys]
    for key in keys:
        with pytest.raises(P.PacketRefused, match="does not decrypt"):
            P.open_packet(data, packet_key=key, expected_db_id=str(header["db_id"]), name="x")
    # (a packet of before the renewal opens with what she holds: what she read before stays read)
    assert P.open_packet(before.read_bytes(), packet_key=keys, expected_db_id=str(header["db_id"]), name="y")
    # WS-02 without the code, then with a wrong one: one line naming WS-01 and what to type; nothing changes
    start = s.state("B")
    for typed, words in ((None, "type the one-time code shown to WS-01's administrator"),
                         ("ABCDE-FGHJK-MNPQR-STVWX-YZ012", "the code typed does not open")):
        with pytest.raises(P.PacketRefused) as info:
            s.load("B", after, typed)
        for lang in (Lang.EN, Lang.FR):
            line = info.value.message(lang)
            assert "\n" not in line and "WS-01" in line and after.name in line
        assert words in info.value.message(Lang.EN)
        assert s.state("B") == start
    # with the code (typed as people type: lower case, spaces), WS-02 takes the generation and imports
    assert s.load("B", after, normalize_recovery_code(code).lower()[:10] + " " + code[12:].lower()).copied > 0
    assert s.value("B") == 95
    # WS-02's own next packet is under the new generation, with its seal: WS-01 imports it; WS-03 with the code
    s.edit("B", "97")
    from_b = s.export("B")
    assert (P.header_of(from_b.read_bytes()) or {}).get("key") == header["key"]
    assert s.load("A", from_b).copied > 0
    assert s.value("A") == 97
    assert s.load("C", before).copied > 0  # WS-02's packet of before: no code needed
    with pytest.raises(P.PacketRefused, match="WS-01"):
        s.load("C", from_b)  # its next, under WS-01's renewal: its seal travels with it, the same code opens it
    assert s.load("C", from_b, code).copied > 0
    assert s.value("C") == 97
    for which in "ABC":
        assert not s.verify(which), which


def test_the_code_is_written_nowhere(site3: Site3, tmp_path: Path) -> None:
    """Every file of the test's folder (databases, WAL, key files, packets) and every file written in the temporary
    folder meanwhile: neither the code (as shown, as typed, normalised) nor the new secret, in clear."""
    import tempfile
    import time

    s = site3
    started = time.time() - 1
    code = _disable(s, "A", "nurse.b")
    s.edit("A", "95")
    after = s.export("A")
    assert s.load("B", after, code).copied > 0
    site, ws = s.open("B", "admin")
    with site, ws.ctx.read() as session:
        row = session.get(SiteSetting, PS.SETTING)
        assert row is not None
        held = PS.unwrap_all(row.value, ws.ctx.store.key, site.keyfile.db_id)
    assert held and len(held) == 2
    needles = {code.encode(), normalize_recovery_code(code).encode(), code.lower().encode(), held[-1][1],
               held[-1][1].hex().encode()}
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in Path(tempfile.gettempdir()).iterdir():
        try:
            if path.is_file() and path.stat().st_mtime >= started:
                files.append(path)
        except OSError:
            continue
    assert len(files) > 5
    for path in files:
        try:
            blob = path.read_bytes()
        except OSError:
            continue
        assert not any(n in blob for n in needles), path
    # verify is clean on both; the trail announces the renewal on A and its reception on B
    assert not [u for u in s.verify("A") if PS.SETTING in u]
    assert not [u for u in s.verify("B") if PS.SETTING in u]


def test_a_generation_planted_in_the_setting_is_named_by_verify(site3: Site3) -> None:
    s = site3
    site, ws = s.open("B", "admin")
    with site:
        db_key, db_id = ws.ctx.store.key, site.keyfile.db_id
        planted = PS.new_secret()
        with ws.ctx.store.write(data=False) as session:
            row = session.get(SiteSetting, PS.SETTING)
            assert row is not None
            value = PS.with_generation(row.value, planted, db_key, db_id, kind="received", seal=None)
            session.execute(SiteSetting.__table__.update().where(SiteSetting.key == PS.SETTING).values(value=value))
        report = ws.integrity.verify(full=True)
    lines = [u.line() for u in report.unexplained if PS.SETTING in u.line()]
    assert lines and PS.fingerprint(planted) in lines[0] and "not announced" in lines[0]


# ----- the screens: the code shown once after a disable; the import dialog asks for it -------------------------------
def test_the_accounts_screen_shows_the_code_after_a_disable_and_the_packets_screen_asks_for_it(
        site3: Site3, qtbot: Any) -> None:
    from PySide6.QtWidgets import QApplication, QLabel, QLineEdit

    from msc_sle_crf.ui.admin_actions import PacketCodeDialog
    from msc_sle_crf.ui.main_window import MainWindow
    from msc_sle_crf.ui.packets_dialog import PacketsDialog

    s = site3
    site, admin = s.open("A", "admin")
    with site:
        main = MainWindow(admin, idle_ms=10**9)
        qtbot.addWidget(main)
        main.show()
        panel = main.accounts
        panel.select("nurse.b")
        panel.disable_button.click()
        dialog = panel.dialog
        qtbot.waitExposed(dialog)
        dialog.findChild(QLineEdit, "reason").setText("left the unit")
        dialog.ok.click()
        qtbot.waitUntil(lambda: isinstance(getattr(panel, "packet_code_dialog", None), PacketCodeDialog),
                        timeout=60_000)
        shown = panel.packet_code_dialog
        code = shown.code.text()
        assert re.fullmatch(r"[0-9A-Z]{5}(-[0-9A-Z]{5}){4}", code)
        note = shown.findChild(QLabel, "packet_code_note").text()
        assert "nurse.b can still sign in on the other workstations until they import this workstation's next " \
               "packet and this code is typed there" in note
        assert admin.accounts.take_packet_code() is None  # the service forgot it: shown once
        shown.reject()
        assert shown.code.text() == ""  # not left on screen
        main.close()
    s.edit("A", "95")
    after = s.export("A")
    site, doctor = s.open("B")
    with site:
        packets = PacketsDialog(doctor)
        qtbot.addWidget(packets)
        packets.show()
        assert not packets.code_edit.isVisible()
        packets.apply([after])
        qtbot.waitUntil(lambda: not packets.running, timeout=60_000)
        assert packets.code_edit.isVisible()
        assert "The code shown to the administrator of WS-01 when the site's packet secret was renewed there" in \
            packets.code_label.text()
        packets.code_edit.setText(code.lower())
        packets.code_button.click()
        qtbot.waitUntil(lambda: not packets.running and packets.results.count() >= 2, timeout=60_000)
        last = packets.results.item(packets.results.count() - 1).text()
        assert "packet 1 of WS-01 applied" in last, last
        assert packets.code_edit.text() == "" and not packets.code_edit.isVisible()  # the code is not kept
        packets.close()
        QApplication.processEvents()
    assert s.value("B") == 95


def test_the_command_line_prints_the_code_once_and_packet_import_asks_it(
        site3: Site3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from msc_sle_crf.cli import main

    s = site3

    def run(*args: str, stdin: str) -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        status = main(["--lang", "en", *args])
        out, err = capsys.readouterr()
        return status, out, err

    status, out, err = run("user", "disable", "--db", str(s.dbs["A"]), "--user", "admin", "--password-stdin",
                           "--name", "nurse.b", "--reason", "left the unit", stdin=ADMIN_PW + "\n")
    assert status == 0, err
    codes = re.findall(r"\b[0-9A-Z]{5}(?:-[0-9A-Z]{5}){4}\b", out)
    assert len(codes) == 1 and "ONE-TIME CODE of the site's packet secret" in out, out
    assert "disable it there too" in out
    s.clock.advance(40 * 86400)  # past the command's own clock
    s.edit("A", "95")
    after = s.export("A")
    base = ("packet", "import", "--db", str(s.dbs["B"]), "--user", "dr.a", "--password-stdin")
    status, out, err = run(*base, str(after), stdin=DR_PW + "\n")
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "renewed on WS-01" in err and "type the one-time code shown to WS-01's administrator" in err
    status, out, err = run(*base, "--code", str(after), stdin=f"{DR_PW}\n{codes[0].lower()}\n")
    assert status == 0, err
    assert out.startswith(f"{after.name}: packet 1 of WS-01 applied")
    assert s.value("B") == 95
