"""Monitoring: source-data verification per item (a change after verification voids it) and queries on items.

A query is opened by a monitor, or automatically when the site confirmed a value that a check flagged; the site
answers (in words, or with a corrected value and a reason for change); the monitor closes or re-opens it. Every
step is a message (append-only) and an audit record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import parse_iso_utc
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.store.tables import DataQuery, FormInstance, ItemValue, ItemVerification, QueryMessage, Subject

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"


@dataclass(frozen=True)
class Message:
    kind: str
    username: str
    role: str
    when: dt.datetime
    text: str


@dataclass(frozen=True)
class QueryInfo:
    id: int
    key: CellKey
    status: str
    automatic: bool
    messages: tuple[Message, ...]


def value_hash(row: ItemValue | None) -> str:
    data = None if row is None else [row.value, row.unit, row.missing_code, row.missing_reason]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


class Monitoring:
    def __init__(self, entry: DataEntry) -> None:
        self.entry = entry
        self.services = entry.services

    def _instance(self, session: Session, ref: FormRef) -> FormInstance:
        subject = self.entry._subject(session, ref.subject)
        instance = self.entry._instance(session, subject, ref.event, ref.form)
        if instance is None:
            raise ValidationError(Msg.FORM_WRONG_STATE, state="not started")
        return instance

    def _add_message(self, session: Session, query: DataQuery, kind: str, text: str, ref: FormRef) -> None:
        actor = self.services.actor
        session.add(QueryMessage(query_id=query.id, kind=kind, username=actor.username, role=actor.role.value,
                                 utc=self.services._now(), text=text))
        self.services._audit(session, Action.QUERY, subject=ref.subject, visit=ref.event, form=ref.form,
                             item=query.item_id, repeat_key=f"{query.group_id}:{query.row_no}",
                             new_value=query.status, detail=f"query #{query.id} {kind}: {text}"[:2000])

    # ----- queries ----------------------------------------------------------------------------------------------
    def open_query(self, ref: FormRef, key: CellKey, text: str) -> int:
        self.services.require(Perm.MANAGE_QUERIES, subject=ref.subject)
        if not text.strip():
            raise ValidationError(Msg.QUERY_TEXT_REQUIRED)
        with self.services.store.write() as session:
            instance = self._instance(session, ref)
            query = DataQuery(instance_id=instance.id, group_id=key[0], row_no=key[1], item_id=key[2], status=OPEN,
                              automatic=False, opened_utc=self.services._now())
            session.add(query)
            session.flush()
            self._add_message(session, query, "open", text.strip(), ref)
            return query.id

    def _query(self, session: Session, query_id: int) -> tuple[DataQuery, FormRef]:
        query = session.get(DataQuery, query_id)
        if query is None:
            raise ValidationError(Msg.QUERY_UNKNOWN, query=query_id)
        instance = session.get(FormInstance, query.instance_id)
        assert instance is not None
        subject = session.get(Subject, instance.subject_id)
        assert subject is not None
        return query, FormRef(subject.subject_number, instance.event_id, instance.form_id)

    def answer(self, query_id: int, text: str, *, corrected_value: str | None = None,
               reason: str | None = None) -> None:
        """The site answers; a corrected value is saved like any change (checked, with a reason, audited)."""
        with self.services.store.read() as session:
            query, ref = self._query(session, query_id)
            key = (query.group_id, query.row_no, query.item_id)
        self.services.require(self.entry._form_perm(self.entry.study.forms[ref.form]), subject=ref.subject)
        if not text.strip():
            raise ValidationError(Msg.QUERY_TEXT_REQUIRED)
        if corrected_value is not None:
            self.entry.save_item(ref, key, corrected_value, reason=reason or text, confirm=True)
        with self.services.store.write() as session:
            query, ref = self._query(session, query_id)
            query.status = ANSWERED
            self._add_message(session, query, "answer", text.strip() + (f" [value: {corrected_value}]"
                                                                        if corrected_value is not None else ""), ref)

    def close(self, query_id: int, text: str = "") -> None:
        self._monitor_step(query_id, CLOSED, "close", text or "closed")

    def reopen(self, query_id: int, text: str) -> None:
        if not text.strip():
            raise ValidationError(Msg.QUERY_TEXT_REQUIRED)
        self._monitor_step(query_id, OPEN, "reopen", text)

    def _monitor_step(self, query_id: int, status: str, kind: str, text: str) -> None:
        with self.services.store.read() as session:
            _, ref = self._query(session, query_id)
        self.services.require(Perm.MANAGE_QUERIES, subject=ref.subject)
        with self.services.store.write() as session:
            query, ref = self._query(session, query_id)
            query.status = status
            self._add_message(session, query, kind, text.strip(), ref)

    def queries(self, ref: FormRef) -> list[QueryInfo]:
        self.services.require(Perm.VIEW_DATA, subject=ref.subject)
        with self.services.store.read() as session:
            subject = self.entry._subject(session, ref.subject)
            instance = self.entry._instance(session, subject, ref.event, ref.form)
            if instance is None:
                return []
            out = []
            for q in session.execute(select(DataQuery).where(DataQuery.instance_id == instance.id)
                                     .order_by(DataQuery.id)).scalars():
                messages = tuple(Message(m.kind, m.username, m.role, parse_iso_utc(m.utc), m.text) for m in
                                 session.execute(select(QueryMessage).where(QueryMessage.query_id == q.id)
                                                 .order_by(QueryMessage.id)).scalars())
                out.append(QueryInfo(q.id, (q.group_id, q.row_no, q.item_id), q.status, q.automatic, messages))
            return out

    def open_counts(self) -> Counter[str]:
        """Open (or answered, awaiting the monitor) queries per subject number."""
        self.services.require(Perm.VIEW_DATA)
        with self.services.store.read() as session:
            rows = session.execute(select(Subject.subject_number).join(
                FormInstance, FormInstance.subject_id == Subject.id).join(
                DataQuery, DataQuery.instance_id == FormInstance.id).where(DataQuery.status != CLOSED)).all()
            return Counter(number for (number,) in rows)

    # ----- source-data verification per item ------------------------------------------------------------------
    def verify_item(self, ref: FormRef, key: CellKey) -> None:
        self.services.require(Perm.VERIFY_SOURCE_DATA, subject=ref.subject)
        with self.services.store.write() as session:
            instance = self._instance(session, ref)
            row = session.execute(select(ItemValue).where(
                ItemValue.instance_id == instance.id, ItemValue.group_id == key[0], ItemValue.row_no == key[1],
                ItemValue.item_id == key[2])).scalar_one_or_none()
            session.add(ItemVerification(instance_id=instance.id, group_id=key[0], row_no=key[1], item_id=key[2],
                                         username=self.services.actor.username, utc=self.services._now(),
                                         value_hash=value_hash(row)))
            self.services._audit(session, Action.SOURCE_VERIFIED, subject=ref.subject, visit=ref.event,
                                 form=ref.form, item=key[2], repeat_key=f"{key[0]}:{key[1]}",
                                 new_value=row.value if row else None)

    def verified_items(self, ref: FormRef) -> dict[CellKey, bool]:
        """Each verified item: True while its value is the one verified, False once it changed."""
        self.services.require(Perm.VIEW_DATA, subject=ref.subject)
        with self.services.store.read() as session:
            subject = self.entry._subject(session, ref.subject)
            instance = self.entry._instance(session, subject, ref.event, ref.form)
            if instance is None:
                return {}
            values = {(v.group_id, v.row_no, v.item_id): v for v in session.execute(
                select(ItemValue).where(ItemValue.instance_id == instance.id)).scalars()}
            out: dict[CellKey, bool] = {}
            for v in session.execute(select(ItemVerification).where(ItemVerification.instance_id == instance.id)
                                     .order_by(ItemVerification.id)).scalars():
                key = (v.group_id, v.row_no, v.item_id)
                out[key] = v.value_hash == value_hash(values.get(key))
            return out
