"""Drafts: unfinished input kept encrypted for the user who typed it, never shown to anyone else.

The keystroke buffer of a form is a draft too (``audited=False``): text not accepted yet is not data, and each
accepted value is audited when it is saved.

Sealed (issue 14, found by the second insider attack): a draft's text is encrypted and authenticated (AES-256-GCM)
with a key derived from its author's personal signing key, which only her password unwraps. Someone else who holds
the database key can neither read another user's unsaved typing nor plant text in it (a draft that does not open
with its author's key is ignored, never shown as hers). Drafts kept in clear by an earlier version are sealed at the
author's first use of this version, once: a signed ``draft_save`` record (form ``#sealed``) marks it, and clear
text found after that mark is ignored. The trail records a draft's digest, not its text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L
from msc_sle_crf.services import limits
from msc_sle_crf.services.changes import NO_CHANGES, Changes
from msc_sle_crf.services.context import ServiceContext, Tx
from msc_sle_crf.store.db import driver_statements
from msc_sle_crf.store.tables import Draft

_FIND = "SELECT id, payload FROM draft WHERE user_id = ? AND draft_key = ?"
_INSERT = "INSERT INTO draft (user_id, draft_key, payload, updated_utc) VALUES (?, ?, ?, ?)"
_UPDATE = "UPDATE draft SET payload = ?, updated_utc = ? WHERE id = ?"
_DELETE = "DELETE FROM draft WHERE id = ?"
_SEALED_MARK = ("SELECT 1 FROM audit_event WHERE subject IS NULL AND form = '#sealed' AND action = 'draft_save' "
                "AND username = ? LIMIT 1")
_USER_DRAFTS = "SELECT id, draft_key, payload FROM draft WHERE user_id = ?"
SEALED = "sealed1:"
_INFO = b"msc-sle-crf/drafts/v1"


def digest(text: str | None) -> str | None:
    """What the trail keeps of a draft: its size and digest (the text stays sealed for its author)."""
    if text is None:
        return None
    return f"{len(text)} characters, sha256 {hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


class Drafts:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._keys: dict[tuple[str, bytes], AESGCM] = {}
        self._legacy_checked: set[str] = set()

    # ----- sealing ---------------------------------------------------------------------------------------------
    def _cipher(self) -> AESGCM | None:
        """This user's draft key (None: a site from before personal keys, whose drafts stay as they were)."""
        site, name = self.ctx.site, self.ctx.actor.username
        if not site.has_signer(name):
            return None
        private = site.signer(name).keys.sign
        public = private.public_key().public_bytes_raw()
        cipher = self._keys.get((name, public))
        if cipher is None:
            key = HKDF(SHA256(), 32, salt=site.keyfile.db_id.encode(), info=_INFO).derive(private.private_bytes_raw())
            cipher = self._keys[(name, public)] = AESGCM(key)
        return cipher

    def _aad(self, draft_key: str) -> bytes:
        return f"{self.ctx.actor.user_id}|{draft_key}".encode()

    def _seal(self, draft_key: str, text: str) -> str:
        cipher = self._cipher()
        if cipher is None:
            return text
        nonce = os.urandom(12)
        sealed = cipher.encrypt(nonce, text.encode("utf-8"), self._aad(draft_key))
        return SEALED + base64.b64encode(nonce + sealed).decode("ascii")

    def _open(self, draft_key: str, stored: str) -> dict[str, Any] | None:
        """The draft's entries, or None when it is not this user's (does not open with her key) or unreadable."""
        cipher = self._cipher()
        if stored.startswith(SEALED):
            if cipher is None:
                return None
            try:
                raw = base64.b64decode(stored[len(SEALED):], validate=True)
                text = cipher.decrypt(raw[:12], raw[12:], self._aad(draft_key)).decode("utf-8")
            except (ValueError, InvalidTag):
                return None
        elif cipher is not None:
            return None  # clear text after this user's drafts were sealed: not hers (planted), ignored
        else:
            text = stored
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return dict(data) if isinstance(data, dict) else None

    def _seal_legacy(self, tx: Tx) -> None:
        """Once per user: drafts an earlier version kept in clear are sealed, and a signed mark says so."""
        name = self.ctx.actor.username
        if name in self._legacy_checked or self._cipher() is None:
            return
        conn = tx.session.connection()
        if conn.exec_driver_sql(_SEALED_MARK, (name,)).first() is None:
            rows = conn.exec_driver_sql(_USER_DRAFTS, (self.ctx.actor.user_id,)).all()
            for draft_id, draft_key, payload in rows:
                if not str(payload).startswith(SEALED):
                    conn.exec_driver_sql(_UPDATE, (self._seal(str(draft_key), str(payload)), self.ctx.now(), draft_id))
            tx.audit(Action.DRAFT_SAVE, form="#sealed", detail=f"{len(rows)} draft(s) sealed for their author")
        self._legacy_checked.add(name)

    def _ensure_sealed(self) -> None:
        name = self.ctx.actor.username
        if name in self._legacy_checked or self._cipher() is None:
            return
        with self.ctx.write(data=False) as tx:
            self._seal_legacy(tx)

    def save(self, draft_key: str, payload: dict[str, Any], *, audited: bool = True) -> Changes:
        """Keep this user's draft (allowed on a locked screen: what the locking user was typing is not lost)."""
        self.ctx.check_session(own_draft=True)
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        if len(text) > limits.MAX_DRAFT_BYTES or len(draft_key) > 200:
            raise ValidationError(Msg.TEXT_TOO_LONG, field=L("Draft", "Brouillon"), limit=limits.MAX_DRAFT_BYTES,
                                  count=len(text))
        user_id = self.ctx.actor.user_id
        self._ensure_sealed()
        with self.ctx.write(data=False) as tx:
            row = tx.session.execute(select(Draft).where(Draft.user_id == user_id,
                                                         Draft.draft_key == draft_key)).scalar_one_or_none()
            before = self._open(draft_key, row.payload) if row is not None else None
            old = json.dumps(before, ensure_ascii=False, sort_keys=True) if before is not None else None
            if old == text:
                return NO_CHANGES
            sealed = self._seal(draft_key, text)
            if row is None:
                tx.session.add(Draft(user_id=user_id, draft_key=draft_key, payload=sealed,
                                     updated_utc=self.ctx.now()))
            else:
                row.payload = sealed
                row.updated_utc = self.ctx.now()
            if audited:
                tx.audit(Action.DRAFT_SAVE, form=draft_key[:64], old_value=digest(old), new_value=digest(text))
        return tx.changes

    def update_entries(self, draft_key: str, entries: dict[str, Any]) -> None:
        """Set (or, with None, remove) entries of this user's draft in one transaction that touches no data (the
        keystroke buffer of a form: allowed on a locked screen, unaudited, a draft emptied is deleted)."""
        self.ctx.check_session(own_draft=True)
        self._ensure_sealed()
        with self.ctx.write(data=False) as tx:
            self._apply(tx, draft_key, entries)

    def remove_entry(self, tx: Tx, draft_key: str, entry: str) -> None:
        """Inside the caller's transaction (a value saved): this user's typing of it is forgotten with the save."""
        self._apply(tx, draft_key, {entry: None})

    def _apply(self, tx: Tx, draft_key: str, entries: dict[str, Any]) -> None:
        execute = driver_statements(tx.connection)  # on every save: the driver's own calls
        user_id = self.ctx.actor.user_id
        self._seal_legacy(tx)
        row = execute(_FIND, (user_id, draft_key)).fetchone()
        payload: dict[str, Any] = (self._open(draft_key, str(row[1])) or {}) if row is not None else {}
        before = dict(payload)
        for entry, value in entries.items():
            if value is None:
                payload.pop(entry, None)
            else:
                payload[entry] = value
        if payload == before:
            return
        if not payload:
            execute(_DELETE, (row[0],))  # before was not empty: a row exists
            return
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        if len(text) > limits.MAX_DRAFT_BYTES or len(draft_key) > 200:
            raise ValidationError(Msg.TEXT_TOO_LONG, field=L("Draft", "Brouillon"), limit=limits.MAX_DRAFT_BYTES,
                                  count=len(text))
        sealed = self._seal(draft_key, text)
        if row is None:
            execute(_INSERT, (user_id, draft_key, sealed, self.ctx.now()))
        else:
            execute(_UPDATE, (sealed, self.ctx.now(), row[0]))

    def load(self, draft_key: str) -> dict[str, Any] | None:
        self.ctx.check_session()
        self._ensure_sealed()
        with self.ctx.read() as session:  # at every form opened and completed: one plain statement
            row = driver_statements(session.connection())(_FIND, (self.ctx.actor.user_id, draft_key)).fetchone()
        return None if row is None else self._open(draft_key, str(row[1]))

    def discard(self, draft_key: str, *, audited: bool = True) -> Changes:
        self.ctx.check_session()
        with self.ctx.write(data=False) as tx:
            row = tx.session.execute(select(Draft).where(Draft.user_id == self.ctx.actor.user_id,
                                                         Draft.draft_key == draft_key)).scalar_one_or_none()
            if row is None:
                return NO_CHANGES
            if audited:
                opened = self._open(draft_key, row.payload)
                tx.audit(Action.DRAFT_DISCARD, form=draft_key[:64], old_value=digest(
                    json.dumps(opened, ensure_ascii=False, sort_keys=True) if opened is not None else row.payload))
            tx.session.delete(row)
        return tx.changes
