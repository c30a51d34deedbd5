"""Issue 18, hole 1: a backup or an export started before a re-key (disable an account, "Rotate keys") read the
database through its own connection opened with the key of that moment, while the re-key rewrote every page under a
new key. Now each takes part in store/key_change.py's gate: the re-key asks it to stop, waits for it, and it starts
again on the new key (a backup then holds the new key and the new key file, never the disabled account's)."""

from __future__ import annotations

import json
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import msc_sle_crf.export.bundle as bundle
import msc_sle_crf.services.backup as B
from msc_sle_crf.audit import Action
from msc_sle_crf.security.keyslots import KIND_USER, KeySlotFile
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services import autobackup as A
from msc_sle_crf.store.db import connect_raw
from msc_sle_crf.store.key_change import key_change

from .conftest import ADMIN_PW, make_user


def _until(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Wait for another thread to reach a point (an event-driven order, not a timing)."""
    pause = threading.Event()
    for _ in range(int(timeout * 100)):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("the other thread never got there")


def _run(out: dict[str, Any], name: str, fn: Callable[[], Any]) -> threading.Thread:
    def body() -> None:
        try:
            out[name] = fn()
        except BaseException as exc:  # asserted by the tests
            out[name + " failed"] = exc
    thread = threading.Thread(target=body)
    thread.start()
    return thread


def _pause_once(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, *, after: bool = False
                ) -> tuple[threading.Event, threading.Event]:
    """``module.name`` stops once (before or after its real work) until ``go``: the reader is then in progress with
    its connection opened under the key of that moment."""
    paused, go = threading.Event(), threading.Event()
    real = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        first = not paused.is_set()
        if first and not after:
            paused.set()
            assert go.wait(60)
        result = real(*args, **kwargs)
        if first and after:
            paused.set()
            assert go.wait(60)
        return result

    monkeypatch.setattr(module, name, wrapper)
    return paused, go


@pytest.fixture
def folder(tmp_path: Path, admin: Workspace) -> Path:
    where = tmp_path / "usb" / "backups"
    where.mkdir(parents=True)
    admin.settings.set("backup_folder", str(where))
    return where


def _backup_opens_with_the_new_key_only(tmp_path: Path, site: Site, backup: Path, old_key: bytes,
                                        disabled: str) -> None:
    """The backup's database opens with the database key of now, its key file is the one of now (no slot of the
    disabled account), and a restore of it with the administrator's password works."""
    with tarfile.open(backup) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    store = site.store
    assert store is not None and store.key != old_key
    conn = connect_raw(tmp_path / "x" / "database.crfdb", store.key, store.salt)
    try:
        assert conn.execute("SELECT count(*) FROM subject").fetchone() == (1,)
    finally:
        conn.close()
    keys = KeySlotFile.load(tmp_path / "x" / "database.crfdb.keys")
    assert keys.find(KIND_USER, disabled) is None and keys.find(KIND_USER, "admin") is not None
    restored = tmp_path / "restored" / "trial.crfdb"
    result = B.restore_backup(backup, restored, "admin", ADMIN_PW, clock=site.clock)
    assert result.audit_records > 5


@pytest.mark.parametrize("when", ["during the copy", "after the copy"])
def test_an_automatic_backup_running_when_an_account_is_disabled_ends_under_the_new_key(
        tmp_path: Path, site: Site, admin: Workspace, folder: Path, monkeypatch: pytest.MonkeyPatch,
        when: str) -> None:
    make_user(admin, "nurse.x", "nurse")
    doctor = Workspace.sign_in(site, "dr.d", make_user(admin, "dr.d", "investigator"))
    doctor.subjects.register("XYZ", 1980, "F")
    doctor.lock()  # the backup at lock runs off the UI thread (ui/backups.py); an administrator takes over
    if when == "during the copy":
        paused, go = _pause_once(monkeypatch, B, "copy_encrypted")
    else:
        paused, go = _pause_once(monkeypatch, B, "_check_copy", after=True)
    assert site.store is not None
    old_key = site.store.key
    out: dict[str, Any] = {}
    backup = _run(out, "backup", lambda: A.run(doctor, "lock"))
    assert paused.wait(60)
    disable = _run(out, "disable", lambda: admin.accounts.disable_user("nurse.x", "left the unit"))
    # Before: the re-key went on under the backup; "during the copy", the copy then read pages written under the new
    # key with the old one and the backup failed ("Cannot write <backup>: file is not a database"); "after the copy",
    # the backup was "read back and checked" holding the database under the old key beside the new key file: no
    # password opened it, and nothing said so.
    _until(lambda: (key_change(site).wanted and key_change(site).readers) or not disable.is_alive())
    go.set()
    backup.join(120)
    disable.join(120)
    assert "backup failed" not in out and "disable failed" not in out, out
    outcome = out["backup"]
    assert outcome.path is not None and outcome.path.exists()
    _backup_opens_with_the_new_key_only(tmp_path, site, outcome.path, old_key, "nurse.x")
    trail = [(r.action, r.detail or "") for r in admin.integrity.audit_trail(limit=40)]
    assert not any(a == Action.BACKUP_FAILED.value for a, _ in trail)
    assert any(a == Action.BACKUP_VERIFIED.value and "after a key change" in d for a, d in trail)


def test_a_backup_started_while_the_key_changes_waits_for_the_new_key(
        tmp_path: Path, site: Site, admin: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    doctor = Workspace.sign_in(site, "dr.d", make_user(admin, "dr.d", "investigator"))
    doctor.subjects.register("XYZ", 1980, "F")
    reached_copy, _go = _pause_once(monkeypatch, B, "copy_encrypted")
    _go.set()
    out: dict[str, Any] = {}
    gate = key_change(site)
    with gate.changing():
        thread = _run(out, "backup", lambda: B.create_backup(admin, tmp_path / "b.crfbak"))
        # Before: nothing held it; it copied the file with the key of the moment while the key changed.
        _until(lambda: gate.waiting or reached_copy.is_set())
        assert not reached_copy.is_set() and gate.waiting == 1
    thread.join(120)
    assert "backup failed" not in out, out
    assert out["backup"].exists()


def test_an_export_running_when_the_keys_are_rotated_starts_again_on_the_new_key(
        tmp_path: Path, site: Site, admin: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    doctor = Workspace.sign_in(site, "dr.d", make_user(admin, "dr.d", "investigator"))
    doctor.subjects.register("XYZ", 1980, "F")
    paused, go = _pause_once(monkeypatch, bundle, "run")
    out: dict[str, Any] = {}
    target = tmp_path / "export"
    export = _run(out, "export", lambda: admin.export.export(target))
    assert paused.wait(60)
    rotate = _run(out, "rotate", admin.accounts.rotate_keys)
    # Before: the export's connection, opened with the old key, read pages the re-key had rewritten: a driver error
    # ("file is not a database") came out of the export, not a line of the Msg catalogue.
    _until(lambda: (key_change(site).wanted and key_change(site).readers) or not rotate.is_alive())
    go.set()
    export.join(120)
    rotate.join(120)
    assert "export failed" not in out and "rotate failed" not in out, out
    manifest = json.loads((target / "MANIFEST.json").read_text())
    assert manifest["trail_head"]["record_id"] > 0
    assert admin.export.check_head(manifest) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "site"]  # no staging folder left behind
    trail = [(r.action, r.detail or "") for r in admin.integrity.audit_trail(limit=20)]
    assert [a for a, _ in trail].count(Action.EXPORT.value) == 1


def test_a_user_cancel_of_an_export_is_still_a_cancel(
        tmp_path: Path, site: Site, admin: Workspace) -> None:
    from msc_sle_crf.export import Cancelled

    with pytest.raises(Cancelled):
        admin.export.export(tmp_path / "export", cancelled=lambda: True)
    assert not (tmp_path / "export").exists()


def test_the_gate_never_makes_a_thread_wait_for_itself() -> None:
    """A read inside a read (an export's audit record written through a check of the session) and a read made by the
    re-key's own thread (its own connections) go through at once; a read of another thread waits for the new key."""
    from msc_sle_crf.store.key_change import KeyChange

    gate = KeyChange()
    done: list[str] = []
    with gate.reading(lambda: None), gate.reading(lambda: None):
        done.append("nested")
    assert gate.readers == 0
    with gate.changing():
        with gate.reading(lambda: None):
            done.append("by the re-key's thread")
        entered = threading.Event()

        def read() -> None:
            with gate.reading(lambda: None):
                entered.set()

        other = threading.Thread(target=read)
        other.start()
        _until(lambda: gate.waiting == 1)
        assert not entered.is_set()
    other.join(60)
    assert entered.is_set() and done == ["nested", "by the re-key's thread"]


def test_the_key_directory_read_waits_for_the_new_key(site: Site, admin: Workspace) -> None:
    """The accounts' keys read from the trail through their own connection (``ServiceContext.key_directory``, used by
    the signatures' display and the accounts screen) wait at the gate like the other reads."""
    gate = key_change(site)
    out: dict[str, Any] = {}
    admin.ctx.forget_directory()
    with gate.changing():
        thread = _run(out, "directory", admin.ctx.key_directory)
        # Before: it read at once, with the key of the moment, while the key changed.
        _until(lambda: gate.waiting or "directory" in out or "directory failed" in out)
        assert gate.waiting == 1 and not out
    thread.join(60)
    assert out["directory"].get("admin") is not None
