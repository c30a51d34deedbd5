"""Monitoring: source-data verification per item (a change after verification voids it) and queries on items.

A query is opened by a monitor, or automatically when the site confirmed a value that a check flagged; the site
answers (in words, or with a corrected value and a reason for change); the monitor closes or re-opens it. Every
step is a message (append-only) and an audit record.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import parse_iso_utc
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.services import limits, reads
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext, Tx
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.services.row_times import row_time
from msc_sle_crf.services.sdv_hash import NO_VALUE_HASH, hash_of_value
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import (
    DataQuery,
    FormInstance,
    FormRow,
    ItemValue,
    ItemVerification,
    QueryMessage,
    Subject,
)
from msc_sle_crf.sync import merge

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
    """What a verification mark holds of the value it verified (services/sdv_hash.py)."""
    if row is None:
        return NO_VALUE_HASH
    return hash_of_value(row.value, row.unit, row.missing_code, row.missing_reason)



@dataclass(frozen=True)
class WorkItem:
    """One query still to be dealt with, anywhere in the trial (the monitor's worklist)."""

    id: int
    subject: str
    event: str
    form: str
    key: CellKey
    status: str  # open (the site must answer) or answered (the monitor must close or re-open)
    automatic: bool
    opened: dt.datetime
    last_step: dt.datetime
    last_text: str

    @property
    def site_must_act(self) -> bool:
        return self.status == OPEN


@dataclass(frozen=True)
class FormMarks:
    """Per form: queries still to be dealt with and source-data verification (items with a value, verified ones)."""

    open_queries: int = 0
    answered_queries: int = 0
    items: int = 0
    verified: int = 0


@dataclass(frozen=True)
class SdvProgress:
    """Items with a value and items whose verification still holds, per subject and visit."""

    subject: str
    event: str
    items: int
    verified: int


@dataclass(frozen=True)
class QueryOpened:
    query_id: int
    changes: Changes


class Monitoring:
    def __init__(self, ctx: ServiceContext, entry: DataEntry) -> None:
        self.ctx = ctx
        self.entry = entry

    def _instance(self, session: Session, ref: FormRef) -> FormInstance:
        subject = reads.subject(session, ref.subject)
        instance = reads.instance(session, subject.id, ref.event, ref.form)
        if instance is None:
            raise ValidationError(Msg.FORM_WRONG_STATE, state=FormStatus.NOT_STARTED.as_l())
        return instance

    def _add_message(self, tx: Tx, query: DataQuery, kind: str, text: str, ref: FormRef, *,
                     now: str | None = None) -> None:
        actor = self.ctx.actor
        now = now or row_time(tx)  # the message's time and its record's: one reading (services/row_times.py)
        tx.session.add(QueryMessage(query_id=query.id, kind=kind, username=actor.username, role=actor.role.value,
                                    utc=now, text=text))
        tx.audit(Action.QUERY, subject=ref.subject, visit=ref.event, form=ref.form, item=query.item_id,
                 repeat_key=f"{query.group_id}:{query.row_no}", new_value=query.status,
                 detail=f"query #{query.id} {kind}: {text}"[:2000], ts_utc=now)

    # ----- queries ----------------------------------------------------------------------------------------------
    def open_query(self, ref: FormRef, key: CellKey, text: str) -> QueryOpened:
        self.ctx.require(Perm.MANAGE_QUERIES, subject=ref.subject)
        text = limits.text(text, limits.QUERY_TEXT, limits.MAX_QUERY_TEXT)
        if not text.strip():
            raise ValidationError(Msg.QUERY_TEXT_REQUIRED)
        with self.ctx.write() as tx:
            instance = self._instance(tx.session, ref)
            now = row_time(tx)
            query = DataQuery(instance_id=instance.id, group_id=key[0], row_no=key[1], item_id=key[2], status=OPEN,
                              automatic=False, opened_utc=now)
            tx.session.add(query)
            tx.session.flush()
            self._add_message(tx, query, "open", text.strip(), ref, now=now)
            query_id = query.id
        return QueryOpened(query_id, tx.changes)

    def _query(self, session: Session, query_id: int) -> tuple[DataQuery, FormRef]:
        query = session.get(DataQuery, query_id)
        if query is None:
            raise ValidationError(Msg.QUERY_UNKNOWN, query=query_id)
        instance = session.get(FormInstance, query.instance_id)
        assert instance is not None
        subject = session.get(Subject, instance.subject_id)
        assert subject is not None
        return query, FormRef(subject.subject_number, instance.event_id, instance.form_id)

    def answer(self, query_id: int, text: str, *, corrected_value: str | None = None, unit: str | None = None,
               confirm: bool = False, reason: str | None = None) -> Changes:
        """The site answers; a corrected value is saved like any change (checked, with a reason, audited), in
        ``unit`` (None: the item's main unit, as on the form). An unusual one raises
        ``SoftCheckNeedsConfirmation`` until the user saw the warning and confirmed it (``confirm``), as on the
        form: nothing is recorded "confirmed" that nobody was shown."""
        with self.ctx.read() as session:
            query, ref = self._query(session, query_id)
            key = (query.group_id, query.row_no, query.item_id)
        self.ctx.require(self.entry.form_perm(ref.form), subject=ref.subject)
        text = limits.text(text, limits.QUERY_TEXT, limits.MAX_QUERY_TEXT)
        reason = limits.reason(reason)
        if not text.strip():
            raise ValidationError(Msg.QUERY_TEXT_REQUIRED)
        corrected = None
        if corrected_value is not None:
            corrected = self.entry.save_item(ref, key, corrected_value, unit, reason=reason or text,
                                             confirm=confirm).changes
        given = f"{corrected_value} {unit}" if unit else corrected_value
        with self.ctx.write() as tx:
            query, ref = self._query(tx.session, query_id)
            query.status = ANSWERED
            self._add_message(tx, query, "answer", text.strip() + (f" [→ {given}]"
                                                                   if corrected_value is not None else ""), ref)
        return corrected | tx.changes if corrected is not None else tx.changes

    def close(self, query_id: int, text: str = "") -> Changes:
        return self._monitor_step(query_id, CLOSED, "close", text or "closed")

    def reopen(self, query_id: int, text: str) -> Changes:
        if not text.strip():
            raise ValidationError(Msg.QUERY_TEXT_REQUIRED)
        return self._monitor_step(query_id, OPEN, "reopen", text)

    def _monitor_step(self, query_id: int, status: str, kind: str, text: str) -> Changes:
        text = limits.text(text, limits.QUERY_TEXT, limits.MAX_QUERY_TEXT) or kind
        with self.ctx.read() as session:
            _, ref = self._query(session, query_id)
        self.ctx.require(Perm.MANAGE_QUERIES, subject=ref.subject)
        with self.ctx.write() as tx:
            query, ref = self._query(tx.session, query_id)
            if status == CLOSED and query.status == CLOSED:  # a second "closed" entry would say nothing new
                raise ValidationError(Msg.QUERY_ALREADY_CLOSED, query=query_id)
            if status == OPEN and query.status == OPEN:
                raise ValidationError(Msg.QUERY_NOT_CLOSED, query=query_id)
            query.status = status
            self._add_message(tx, query, kind, text.strip(), ref)
        return tx.changes

    def queries(self, ref: FormRef) -> list[QueryInfo]:
        self.ctx.require(Perm.VIEW_DATA, subject=ref.subject)
        with self.ctx.read() as session:
            subject = reads.subject(session, ref.subject)
            instance = reads.instance(session, subject.id, ref.event, ref.form)
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

    def row_position(self, ref: FormRef, key: CellKey) -> int | None:
        """A repeating row's number as the form and the PDF show it (#1, #2 ...: its place among the rows not
        removed; stored row numbers start at 1 and are never reused), None when the row was removed."""
        self.ctx.require(Perm.VIEW_DATA, subject=ref.subject)
        with self.ctx.read() as session:
            subject = reads.subject(session, ref.subject)
            instance = reads.instance(session, subject.id, ref.event, ref.form)
            if instance is None:
                return None
            rows = sorted(r.row_no for r in reads.live_rows(session, instance.id) if r.group_id == key[0])
        return rows.index(key[1]) + 1 if key[1] in rows else None

    def open_counts(self) -> Counter[str]:
        """Open (or answered, awaiting the monitor) queries per subject number."""
        self.ctx.require(Perm.VIEW_DATA)
        with self.ctx.read() as session:
            rows = session.execute(select(Subject.subject_number).join(
                FormInstance, FormInstance.subject_id == Subject.id).join(
                DataQuery, DataQuery.instance_id == FormInstance.id).where(DataQuery.status != CLOSED)).all()
            return Counter(number for (number,) in rows)

    def worklist(self) -> list[WorkItem]:
        """Every query not closed, across subjects, oldest first."""
        self.ctx.require(Perm.VIEW_DATA)
        with self.ctx.read() as session:
            rows = session.execute(
                select(DataQuery, Subject.subject_number, FormInstance.event_id, FormInstance.form_id)
                .join(FormInstance, DataQuery.instance_id == FormInstance.id)
                .join(Subject, FormInstance.subject_id == Subject.id)
                .where(DataQuery.status != CLOSED).order_by(DataQuery.opened_utc, DataQuery.id)).all()
            last: dict[int, QueryMessage] = {}
            if rows:
                for m in session.execute(select(QueryMessage).where(
                        QueryMessage.query_id.in_([q.id for q, *_ in rows])).order_by(QueryMessage.id)).scalars():
                    last[m.query_id] = m
            out = []
            for q, number, event, form in rows:
                message = last.get(q.id)
                opened = parse_iso_utc(q.opened_utc)
                out.append(WorkItem(q.id, number, event, form, (q.group_id, q.row_no, q.item_id), q.status,
                                    q.automatic, opened, parse_iso_utc(message.utc) if message else opened,
                                    message.text if message else ""))
            return out

    def _sdv_counts(self, session: Session, subject_id: int | None) -> dict[tuple[str, str, str], tuple[int, int]]:
        """(subject, visit, form) -> (items with a value, items whose verification still holds)."""
        query = (select(ItemValue, Subject.subject_number, FormInstance.event_id, FormInstance.form_id)
                 .join(FormInstance, ItemValue.instance_id == FormInstance.id)
                 .join(Subject, FormInstance.subject_id == Subject.id)
                 .where((ItemValue.value.is_not(None)) | (ItemValue.missing_code.is_not(None))))
        marks = select(ItemVerification).order_by(ItemVerification.id)
        if subject_id is not None:
            query = query.where(FormInstance.subject_id == subject_id)
            marks = marks.join(FormInstance, ItemVerification.instance_id == FormInstance.id).where(
                FormInstance.subject_id == subject_id)
        removed_q = select(FormRow.instance_id, FormRow.group_id, FormRow.row_no).where(FormRow.removed.is_(True))
        if subject_id is not None:
            removed_q = removed_q.join(FormInstance, FormRow.instance_id == FormInstance.id).where(
                FormInstance.subject_id == subject_id)
        removed = {tuple(r) for r in session.execute(removed_q).all()}
        verified: dict[tuple[int, str, int, str], str] = {}
        for v in session.execute(marks).scalars():  # the latest mark of each item counts
            verified[(v.instance_id, v.group_id, v.row_no, v.item_id)] = v.value_hash
        out: dict[tuple[str, str, str], tuple[int, int]] = {}
        for row, number, event, form in session.execute(query).all():
            if (row.instance_id, row.group_id, row.row_no) in removed:
                continue
            mark = verified.get((row.instance_id, row.group_id, row.row_no, row.item_id))
            items, done = out.get((number, event, form), (0, 0))
            out[(number, event, form)] = (items + 1, done + (mark is not None and mark == value_hash(row)))
        return out

    def form_marks(self, subject: str) -> dict[tuple[str, str], FormMarks]:
        """Per (visit, form) of one subject: queries to deal with, and SDV progress (the casebook tree)."""
        self.ctx.require(Perm.VIEW_DATA, subject=subject)
        with self.ctx.read() as session:
            s = reads.subject(session, subject)
            counts = self._sdv_counts(session, s.id)
            queries = session.execute(select(FormInstance.event_id, FormInstance.form_id, DataQuery.status)
                                      .join(DataQuery, DataQuery.instance_id == FormInstance.id)
                                      .where(FormInstance.subject_id == s.id, DataQuery.status != CLOSED)).all()
        open_q: Counter[tuple[str, str]] = Counter()
        answered: Counter[tuple[str, str]] = Counter()
        for event, form, status in queries:
            (open_q if status == OPEN else answered)[(event, form)] += 1
        keys = {(e, f) for (_, e, f) in counts} | set(open_q) | set(answered)
        return {k: FormMarks(open_q[k], answered[k], *counts.get((subject, *k), (0, 0))) for k in keys}

    def sdv_progress(self) -> list[SdvProgress]:
        """Per subject and visit (visits with at least one value), in subject order."""
        self.ctx.require(Perm.VIEW_DATA)
        with self.ctx.read() as session:
            counts = self._sdv_counts(session, None)
        per_visit: dict[tuple[str, str], tuple[int, int]] = {}
        for (number, event, _form), (items, done) in counts.items():
            a, b = per_visit.get((number, event), (0, 0))
            per_visit[(number, event)] = (a + items, b + done)
        return [SdvProgress(n, e, a, b) for (n, e), (a, b) in sorted(per_visit.items())]

    def verify_form(self, ref: FormRef) -> Changes:
        """Source-data verification of every item of the form that has a value and no verification that still
        holds: one transaction, one audit record per item (as ``verify_item``)."""
        self.ctx.require(Perm.VERIFY_SOURCE_DATA, subject=ref.subject)
        with self.ctx.write() as tx:
            instance = self._instance(tx.session, ref)
            held = {(v.group_id, v.row_no, v.item_id): v.value_hash for v in tx.session.execute(
                select(ItemVerification).where(ItemVerification.instance_id == instance.id)
                .order_by(ItemVerification.id)).scalars()}
            now = row_time(tx)
            removed = reads.removed_rows(tx.session, [instance.id])
            for row in reads.item_values(tx.session, instance.id):
                key = (row.group_id, row.row_no, row.item_id)
                digest = value_hash(row)
                if ((row.value is None and row.missing_code is None) or held.get(key) == digest
                        or (instance.id, key[0], key[1]) in removed):
                    continue
                tx.session.add(ItemVerification(instance_id=instance.id, group_id=key[0], row_no=key[1],
                                                item_id=key[2], username=self.ctx.actor.username, utc=now,
                                                value_hash=digest))
                tx.audit(Action.SOURCE_VERIFIED, subject=ref.subject, visit=ref.event, form=ref.form, item=key[2],
                         repeat_key=f"{key[0]}:{key[1]}", new_value=row.value, ts_utc=now)
        return tx.changes

    # ----- source-data verification per item ------------------------------------------------------------------
    def verify_item(self, ref: FormRef, key: CellKey) -> Changes:
        self.ctx.require(Perm.VERIFY_SOURCE_DATA, subject=ref.subject)
        with self.ctx.write() as tx:
            instance = self._instance(tx.session, ref)
            row = reads.item_value(tx.session, instance.id, key)
            now = row_time(tx)
            tx.session.add(ItemVerification(instance_id=instance.id, group_id=key[0], row_no=key[1], item_id=key[2],
                                            username=self.ctx.actor.username, utc=now,
                                            value_hash=value_hash(row)))
            tx.audit(Action.SOURCE_VERIFIED, subject=ref.subject, visit=ref.event, form=ref.form, item=key[2],
                     repeat_key=f"{key[0]}:{key[1]}", new_value=row.value if row else None, ts_utc=now)
        return tx.changes

    def verified_items(self, ref: FormRef) -> dict[CellKey, bool]:
        """Each verified item: True while its value is the one verified, False once it changed."""
        self.ctx.require(Perm.VIEW_DATA, subject=ref.subject)
        with self.ctx.read() as session:
            subject = reads.subject(session, ref.subject)
            instance = reads.instance(session, subject.id, ref.event, ref.form)
            if instance is None:
                return {}
            verifications = session.execute(select(ItemVerification).where(
                ItemVerification.instance_id == instance.id).order_by(ItemVerification.id)).scalars().all()
            if not verifications:  # most forms: the values need not be read (a form opens faster)
                return {}
            values = {(v.group_id, v.row_no, v.item_id): v for v in session.execute(
                select(ItemValue).where(ItemValue.instance_id == instance.id)).scalars()}
            conflicts = merge.conflicts_of(session, instance.id)  # issue 18: a conflict voids the item's SDV
            out: dict[CellKey, bool] = {}
            for v in verifications:
                key = (v.group_id, v.row_no, v.item_id)
                out[key] = v.value_hash == value_hash(values.get(key)) and not merge.voids(conflicts, v.utc, key)
            return out
