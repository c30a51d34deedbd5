"""Damaged, truncated, foreign or missing files: one clear message, nothing written."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from msc_sle_crf.errors import KeyFileError, Msg, StoreError
from msc_sle_crf.security.keyslots import KeySlotFile
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store.db import PAGE_SIZE

from .conftest import ADMIN_PW, FAST_KDF


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def closed_site(db_path: Path, site: Site, admin: Workspace) -> Path:
    """A database with some pages of data, closed (checkpointed) so the main file holds everything."""
    for i in range(120):  # the site name holds at most 64 bytes (it goes into the signing certificate)
        admin.settings.set("site_name", f"Hôpital Saint-Louis, unité {i} " + "x" * 30)
    site.close()
    assert db_path.stat().st_size >= 8 * PAGE_SIZE
    return db_path


# A byte flipped in a page the opening does not read: see test_issue13_signin.py (found by the full checks: verify,
# backups and the check run after sign-in; the opening checks in constant time).


def test_truncated_database_is_reported(closed_site: Path, clock) -> None:
    data = closed_site.read_bytes()
    closed_site.write_bytes(data[: len(data) - 1000])
    with pytest.raises(StoreError) as exc:
        Site.open(closed_site, clock=clock)
    assert exc.value.msg is Msg.DB_TRUNCATED


def test_database_cut_at_a_page_boundary_is_reported(closed_site: Path, clock) -> None:
    data = closed_site.read_bytes()
    closed_site.write_bytes(data[: len(data) - 3 * PAGE_SIZE])
    site = Site.open(closed_site, clock=clock)
    with pytest.raises(StoreError) as exc:
        site.sign_in("admin", ADMIN_PW)
    site.close()
    assert exc.value.msg in (Msg.DB_CORRUPT, Msg.DB_TRUNCATED)


@pytest.mark.parametrize("content", [b"", b"hello, this is a text file\n" * 400, bytes(range(256)) * 64])
def test_not_a_database(tmp_path: Path, content: bytes, clock) -> None:
    path = tmp_path / "notes.crfdb"
    path.write_bytes(content)
    with pytest.raises(StoreError) as exc:
        Site.open(path, clock=clock)
    assert exc.value.msg in (Msg.DB_NOT_A_DATABASE, Msg.DB_TRUNCATED, Msg.KEYFILE_MISSING)


def test_plain_sqlite_file_is_not_a_database(tmp_path: Path, clock) -> None:
    path = tmp_path / "plain.crfdb"
    conn = sqlite3.connect(path)
    conn.execute("create table t(x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as exc:
        Site.open(path, clock=clock)
    assert exc.value.msg is Msg.DB_NOT_A_DATABASE


def test_missing_database(tmp_path: Path, clock) -> None:
    with pytest.raises(StoreError) as exc:
        Site.open(tmp_path / "absent.crfdb", clock=clock)
    assert exc.value.msg is Msg.DB_NOT_FOUND


def test_missing_key_file(closed_site: Path, clock) -> None:
    KeySlotFile.path_for(closed_site).unlink()
    with pytest.raises(KeyFileError) as exc:
        Site.open(closed_site, clock=clock)
    assert exc.value.msg is Msg.KEYFILE_MISSING
    assert "backup" in exc.value.message()


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "edit"])
def test_corrupted_key_file(closed_site: Path, clock, damage: str) -> None:
    keys = KeySlotFile.path_for(closed_site)
    raw = bytearray(keys.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
    elif damage == "truncate":
        raw = raw[: len(raw) // 3]
    elif damage == "garbage":
        raw = bytearray(b"\x00\xff" * 100)
    else:  # a valid JSON edit that breaks the checksum (someone changed a salt by hand)
        doc = json.loads(raw)
        doc["slots"][0]["salt"] = "AAAAAAAAAAAAAAAAAAAAAA=="
        raw = bytearray(json.dumps(doc).encode())
    keys.write_bytes(bytes(raw))
    with pytest.raises(KeyFileError) as exc:
        Site.open(closed_site, clock=clock)
    assert exc.value.msg is Msg.KEYFILE_CORRUPT
    assert "recovery code" in exc.value.message()


def test_key_file_of_another_database(tmp_path: Path, closed_site: Path, clock) -> None:
    other, _, _ = Site.initialize(tmp_path / "other.crfdb", admin_username="admin", admin_full_name="Other",
                                  admin_password=ADMIN_PW, kdf=FAST_KDF, clock=clock)
    other.close()
    KeySlotFile.path_for(closed_site).write_bytes(KeySlotFile.path_for(tmp_path / "other.crfdb").read_bytes())
    with pytest.raises(KeyFileError) as exc:
        Site.open(closed_site, clock=clock)
    assert exc.value.msg is Msg.KEYFILE_MISMATCH


def test_second_instance_is_refused_without_harm(db_path: Path, site: Site, admin: Workspace, clock) -> None:
    with pytest.raises(StoreError) as exc:
        Site.open(db_path, clock=clock)
    assert exc.value.msg is Msg.DB_IN_USE
    admin.settings.set("site_name", "Still working")
    assert admin.settings.all()["site_name"] == "Still working"


def test_initialize_refuses_to_overwrite(db_path: Path, site: Site, clock) -> None:
    with pytest.raises(StoreError) as exc:
        Site.initialize(db_path, admin_username="admin2", admin_full_name="X", admin_password=ADMIN_PW,
                        kdf=FAST_KDF, clock=clock)
    assert exc.value.msg is Msg.DB_EXISTS
