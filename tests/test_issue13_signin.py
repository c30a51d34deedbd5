"""Issue 13, item 2: sign-in in constant time. The opening checks what refuses a wrong or damaged file (key, header,
schema, the newest audit records); every page and the whole chain are checked by verify, by backups and by the
check run in the background after sign-in, whose result stays on the main window's status bar."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.security.keyslots import KIND_USER, normalize_secret
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.backup import create_backup
from msc_sle_crf.store.db import PAGE_SIZE, connect_raw

from .conftest import ADMIN_PW


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def closed_site(db_path: Path, site: Site, admin: Workspace) -> Path:
    """A database of many pages (a long audit trail), closed (checkpointed) so the main file holds everything."""
    for i in range(150):
        admin.settings.set("site_name", f"Hôpital Saint-Louis, unité {i} " + "x" * 30)
    site.close()
    assert db_path.stat().st_size >= 20 * PAGE_SIZE
    return db_path


def _raw(db: Path) -> object:
    site = Site.open(db)
    try:
        key = site.keyfile.unwrap(KIND_USER, "admin", normalize_secret(ADMIN_PW))
        assert key is not None
        return connect_raw(db, key, bytes.fromhex(site.keyfile.db_salt_hex))
    finally:
        site.close()


def _damage_a_page_sign_in_does_not_need(db: Path) -> None:
    """Old rows sign-in never reads fill the last pages of the file (a table of their own, so that the damaged page
    is known); a byte is flipped in one of them."""
    conn = _raw(db)
    conn.execute("CREATE TABLE old_rows (x TEXT)")  # type: ignore[attr-defined]
    conn.executemany("INSERT INTO old_rows VALUES (?)", [("z" * 1000,) for _ in range(40)])  # type: ignore[attr-defined]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]
    data = bytearray(db.read_bytes())
    data[len(data) - 3 * PAGE_SIZE + 100] ^= 0x40
    db.write_bytes(bytes(data))


def test_a_damaged_page_sign_in_does_not_read_is_found_by_the_full_checks(closed_site: Path, tmp_path: Path,
                                                                          clock) -> None:
    # A damaged page the opening does not read: sign-in goes on (in constant time) ...
    _damage_a_page_sign_in_does_not_need(closed_site)
    site = Site.open(closed_site, clock=clock)
    try:
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)
        # ... the check run after sign-in finds it, names the page problem, and records the check,
        report = admin.integrity.check_after_sign_in()
        assert not report.ok and report.page_problems
        trail = admin.integrity.audit_trail(limit=1)
        assert trail[0].action == "audit_verify" and "check after sign-in" in (trail[0].detail or "")
        assert "pages:" in (trail[0].detail or "")
        # ... so does verify,
        assert not admin.integrity.verify().ok
        # ... and no backup of it is written as if it were sound.
        with pytest.raises(StoreError) as exc:
            create_backup(admin, tmp_path / "b.tar")
        assert exc.value.msg is Msg.DB_CORRUPT
        assert not (tmp_path / "b.tar").exists()
    finally:
        site.close()


def test_a_damaged_first_page_is_refused_at_sign_in_and_nothing_is_written(closed_site: Path, clock) -> None:
    data = bytearray(closed_site.read_bytes())
    data[200] ^= 0x40  # inside page 1 (after the 16-byte salt): header and schema root
    closed_site.write_bytes(bytes(data))
    before = _digest(closed_site)
    site = Site.open(closed_site, clock=clock)
    with pytest.raises(StoreError) as exc:
        site.sign_in("admin", ADMIN_PW)
    site.close()
    assert exc.value.msg in (Msg.DB_CORRUPT, Msg.DB_NOT_A_DATABASE)
    assert _digest(closed_site) == before


def test_altered_newest_audit_record_is_shown_at_once_and_verify_still_runs(qtbot, closed_site: Path,
                                                                           clock) -> None:
    conn = _raw(closed_site)
    conn.execute("DROP TRIGGER audit_event_no_update")  # type: ignore[attr-defined]
    last = conn.execute("SELECT max(id) FROM audit_event").fetchone()[0]  # type: ignore[attr-defined]
    conn.execute("UPDATE audit_event SET username = 'mallory' WHERE id = ?", (last - 3,))  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]
    site = Site.open(closed_site, clock=clock)
    try:
        admin = Workspace.sign_in(site, "admin", ADMIN_PW)  # not locked out of the data: the trail is the news
        assert site.opening_check is not None and site.opening_check.first_bad_id == last - 3
        from msc_sle_crf.ui.main_window import MainWindow

        window = MainWindow(admin, idle_ms=10**9)  # shown at once, before the full check has run
        qtbot.addWidget(window)
        assert f"#{last - 3}" in window.status_integrity.text() and "#b00020" in window.status_integrity.styleSheet()
        report = admin.integrity.verify()
        assert not report.ok and report.audit.first_bad_id == last - 3
        window.close()
    finally:
        site.close()


def test_a_missing_table_is_refused_at_sign_in(closed_site: Path, clock) -> None:
    conn = _raw(closed_site)
    conn.execute("DROP TABLE item_verification")  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]
    site = Site.open(closed_site, clock=clock)
    with pytest.raises(StoreError) as exc:
        site.sign_in("admin", ADMIN_PW)
    site.close()
    assert exc.value.msg is Msg.DB_CORRUPT and "item_verification" in exc.value.message()


def test_healthy_backup_is_checked_and_written(site: Site, admin: Workspace, tmp_path: Path) -> None:
    out = create_backup(admin, tmp_path / "ok.tar")
    assert out.exists()


def test_main_window_shows_the_check_after_sign_in(qtbot, site: Site, admin: Workspace) -> None:
    from msc_sle_crf.ui.main_window import MainWindow

    window = MainWindow(admin, idle_ms=10**9)
    qtbot.addWidget(window)
    window.check_integrity()
    assert "Checking the database" in window.status_integrity.text()
    qtbot.waitUntil(lambda: window.integrity_report is not None, timeout=20_000)
    assert window.integrity_report is not None and window.integrity_report.ok
    assert "intact" in window.status_integrity.text()
    window.close()


def test_main_window_shows_a_damaged_page_in_red(qtbot, closed_site: Path, clock) -> None:
    from msc_sle_crf.ui.main_window import MainWindow

    _damage_a_page_sign_in_does_not_need(closed_site)
    site = Site.open(closed_site, clock=clock)
    try:
        window = MainWindow(Workspace.sign_in(site, "admin", ADMIN_PW), idle_ms=10**9)
        qtbot.addWidget(window)
        window.check_integrity()
        qtbot.waitUntil(lambda: window.integrity_report is not None, timeout=20_000)
        assert "INTEGRITY PROBLEM" in window.status_integrity.text()
        assert "#b00020" in window.status_integrity.styleSheet()
        window.close()
    finally:
        site.close()


def test_closing_stops_a_check_in_progress(site: Site, admin: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_sle_crf.services import integrity as I

    def closing_meanwhile(conn: object, full: bool = False, between: object = None) -> list[str]:
        admin.integrity.stop_checks()  # the window closes while the pages are being read
        return [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]  # type: ignore[attr-defined]

    monkeypatch.setattr(I, "integrity_problems", closing_meanwhile)
    with pytest.raises(I.CheckStopped):
        admin.integrity.check_after_sign_in()
    monkeypatch.undo()
    assert admin.integrity.check_after_sign_in().ok  # the next check runs in full
