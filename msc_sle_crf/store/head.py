"""The trail head, kept outside the database: the id, hash and time of the last audit record known to be committed.

Why: SQLite recovers a damaged write-ahead log (WAL) silently, by dropping every frame from the first bad one on,
so transactions that were committed (acknowledged to the user) can vanish without any error and the hash chain still
holds over what remains. A copy of the chain's head kept in another file lets ``verify`` and the next sign-in see
that the trail ends before a record known to have been written: "writes after HH:MM may have been lost".

The file ``<db>.head`` holds two fixed-size slots written alternately in place and flushed with ``fdatasync``: one
system call and one flush per update (no rename, no directory sync), and a write torn by a crash leaves the other
slot valid (each slot carries its own checksum and a sequence number). It holds no trial data: a record number, a
SHA-256 and a time.

It is updated after each committed write at most every ``interval`` seconds (``Site.head_interval``) and always at
lock, log-out and close; writes made after the last update cannot be detected this way (see the README).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLOT_BYTES = 256
MAGIC = "msc-sle-crf-head"


@dataclass(frozen=True)
class Head:
    record_id: int
    record_hash: str
    ts_utc: str
    seq: int = 0


def path_for(db_path: Path) -> Path:
    return Path(f"{db_path}.head")


def _encode(head: Head, db_id: str) -> bytes:
    body = {"m": MAGIC, "db": db_id, "seq": head.seq, "id": head.record_id, "hash": head.record_hash,
            "ts": head.ts_utc}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    check = hashlib.sha256(text.encode()).hexdigest()[:16]
    data = json.dumps({**body, "c": check}, sort_keys=True, separators=(",", ":")).encode()
    if len(data) > SLOT_BYTES - 1:
        raise ValueError("head record too long")
    return data.ljust(SLOT_BYTES - 1, b" ") + b"\n"


def _decode(raw: bytes, db_id: str) -> Head | None:
    try:
        data: dict[str, Any] = json.loads(raw.decode("ascii").strip())
        check = data.pop("c")
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        if hashlib.sha256(text.encode()).hexdigest()[:16] != check or data.get("m") != MAGIC \
                or data.get("db") != db_id:
            return None
        return Head(int(data["id"]), str(data["hash"]), str(data["ts"]), int(data["seq"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        return None


def read(db_path: Path, db_id: str) -> Head | None:
    """The newest valid slot, or None (no file yet, or both slots unreadable)."""
    try:
        with open(path_for(db_path), "rb") as fh:
            raw = fh.read(2 * SLOT_BYTES)
    except OSError:
        return None
    heads = [h for h in (_decode(raw[:SLOT_BYTES], db_id), _decode(raw[SLOT_BYTES:], db_id)) if h is not None]
    return max(heads, key=lambda h: h.seq) if heads else None


class HeadWriter:
    """Keeps ``<db>.head`` open and writes the alternate slot in place."""

    def __init__(self, db_path: Path, db_id: str) -> None:
        self.path = path_for(db_path)
        self.db_id = db_id
        current = read(db_path, db_id)
        self.seq = current.seq if current is not None else 0
        self.last: Head | None = current
        self._fd: int | None = None

    def write(self, record_id: int, record_hash: str, ts_utc: str) -> None:
        """Record the head (a failure to write it never fails the user's write: it only weakens detection)."""
        if self.last is not None and self.last.record_id == record_id and self.last.record_hash == record_hash:
            return
        self.seq += 1
        head = Head(record_id, record_hash, ts_utc, self.seq)
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
            os.pwrite(self._fd, _encode(head, self.db_id), (self.seq % 2) * SLOT_BYTES)
            (getattr(os, "fdatasync", None) or os.fsync)(self._fd)
        except OSError:
            return
        self.last = head

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
