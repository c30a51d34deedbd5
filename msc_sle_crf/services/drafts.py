"""Drafts: unfinished input kept encrypted for the user who typed it, never shown to anyone else.

The keystroke buffer of a form is a draft too (``audited=False``): text not accepted yet is not data, and each
accepted value is audited when it is saved.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L
from msc_sle_crf.services import limits
from msc_sle_crf.services.changes import NO_CHANGES, Changes
from msc_sle_crf.services.context import ServiceContext, Tx
from msc_sle_crf.store.tables import Draft

_FIND = "SELECT id, payload FROM draft WHERE user_id = ? AND draft_key = ?"
_INSERT = "INSERT INTO draft (user_id, draft_key, payload, updated_utc) VALUES (?, ?, ?, ?)"
_UPDATE = "UPDATE draft SET payload = ?, updated_utc = ? WHERE id = ?"
_DELETE = "DELETE FROM draft WHERE id = ?"


class Drafts:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def save(self, draft_key: str, payload: dict[str, Any], *, audited: bool = True) -> Changes:
        """Keep this user's draft (allowed on a locked screen: what the locking user was typing is not lost)."""
        self.ctx.check_session(own_draft=True)
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        if len(text) > limits.MAX_DRAFT_BYTES or len(draft_key) > 200:
            raise ValidationError(Msg.TEXT_TOO_LONG, field=L("Draft", "Brouillon"), limit=limits.MAX_DRAFT_BYTES,
                                  count=len(text))
        user_id = self.ctx.actor.user_id
        with self.ctx.write(data=False) as tx:
            row = tx.session.execute(select(Draft).where(Draft.user_id == user_id,
                                                         Draft.draft_key == draft_key)).scalar_one_or_none()
            if row is not None and row.payload == text:
                return NO_CHANGES
            old = row.payload if row else None
            if row is None:
                tx.session.add(Draft(user_id=user_id, draft_key=draft_key, payload=text, updated_utc=self.ctx.now()))
            else:
                row.payload = text
                row.updated_utc = self.ctx.now()
            if audited:
                tx.audit(Action.DRAFT_SAVE, form=draft_key[:64], old_value=old, new_value=text)
        return tx.changes

    def update_entries(self, draft_key: str, entries: dict[str, Any]) -> None:
        """Set (or, with None, remove) entries of this user's draft in one transaction that touches no data (the
        keystroke buffer of a form: allowed on a locked screen, unaudited, a draft emptied is deleted)."""
        self.ctx.check_session(own_draft=True)
        with self.ctx.write(data=False) as tx:
            self._apply(tx, draft_key, entries)

    def remove_entry(self, tx: Tx, draft_key: str, entry: str) -> None:
        """Inside the caller's transaction (a value saved): this user's typing of it is forgotten with the save."""
        self._apply(tx, draft_key, {entry: None})

    def _apply(self, tx: Tx, draft_key: str, entries: dict[str, Any]) -> None:
        conn = tx.session.connection()
        user_id = self.ctx.actor.user_id
        row = conn.exec_driver_sql(_FIND, (user_id, draft_key)).first()
        payload: dict[str, Any] = dict(json.loads(row[1])) if row is not None else {}
        before = dict(payload)
        for entry, value in entries.items():
            if value is None:
                payload.pop(entry, None)
            else:
                payload[entry] = value
        if payload == before:
            return
        if not payload:
            conn.exec_driver_sql(_DELETE, (row[0],))  # type: ignore[index]  # before was not empty: a row exists
            return
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        if len(text) > limits.MAX_DRAFT_BYTES or len(draft_key) > 200:
            raise ValidationError(Msg.TEXT_TOO_LONG, field=L("Draft", "Brouillon"), limit=limits.MAX_DRAFT_BYTES,
                                  count=len(text))
        if row is None:
            conn.exec_driver_sql(_INSERT, (user_id, draft_key, text, self.ctx.now()))
        else:
            conn.exec_driver_sql(_UPDATE, (text, self.ctx.now(), row[0]))

    def load(self, draft_key: str) -> dict[str, Any] | None:
        self.ctx.check_session()
        with self.ctx.read() as session:
            row = session.execute(select(Draft).where(Draft.user_id == self.ctx.actor.user_id,
                                                      Draft.draft_key == draft_key)).scalar_one_or_none()
            return None if row is None else dict(json.loads(row.payload))

    def discard(self, draft_key: str, *, audited: bool = True) -> Changes:
        self.ctx.check_session()
        with self.ctx.write(data=False) as tx:
            row = tx.session.execute(select(Draft).where(Draft.user_id == self.ctx.actor.user_id,
                                                         Draft.draft_key == draft_key)).scalar_one_or_none()
            if row is None:
                return NO_CHANGES
            if audited:
                tx.audit(Action.DRAFT_DISCARD, form=draft_key[:64], old_value=row.payload)
            tx.session.delete(row)
        return tx.changes
