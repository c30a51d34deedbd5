"""Form data entry through the service layer: one value at a time, checked, stored and audited together.

Rules (the same engine as the screen, ``formdef.engine``):
- an impossible value (format, hard range, impossible date) is refused and not stored;
- an unusual value (soft range, visit window) is stored only with its confirmation, which is recorded;
- cross-item inconsistencies are stored but block "Mark complete" (which of two values is wrong is for the
  user to decide);
- while a form is a draft each accepted value is audited as ``data_entry``; once complete, a change needs a
  reason for change and is audited as ``data_change``;
- text typed but not accepted yet is kept in the user's encrypted typing buffer, so nothing typed is lost.

Writes read what they need with plain SQL, or keep it from the previous save when nothing else was written since
(``services.editing``): a save costs little more than its own write.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.formdef import licensed
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import NUMERIC_TYPES, EventDef, FormDef, MissingCode, StudyDef
from msc_sle_crf.formdef.engine import CellKey, FormState, Issue, Severity
from msc_sle_crf.i18n import L
from msc_sle_crf.services import editing, limits, reads
from msc_sle_crf.services.changes import NO_CHANGES, Changes
from msc_sle_crf.services.context import ServiceContext, Tx
from msc_sle_crf.services.drafts import Drafts
from msc_sle_crf.services.editing import Editing, Stored
from msc_sle_crf.services.integrity import AuditRecord
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import AuditEvent, DataQuery, FormRow, ItemValue, QueryMessage
from msc_sle_crf.sync.ids import next_id
from msc_sle_crf.sync.ownership import require_owner


class SoftCheckNeedsConfirmation(ValidationError):
    """An unusual value: the caller may save it again with ``confirm=True``."""


class FormIncomplete(ValidationError):
    def __init__(self, blockers: list[Issue]) -> None:
        self.blockers = blockers
        problems = L("\n".join(f"- {b.message.en}" for b in blockers), "\n".join(f"- {b.message.fr}" for b in blockers))
        super().__init__(Msg.FORM_INCOMPLETE, count=len(blockers), problems=problems)


def unsaved_issue(form: FormDef, key: CellKey) -> Issue:
    """A value typed (in the typing buffer) but not saved: it blocks completion and signing."""
    label = form.item(key[2]).label
    return Issue(key, Severity.HARD, "unsaved", L(f"{label.en}: the value typed has not been saved yet",
                                                  f"{label.fr} : la valeur saisie n'a pas encore été enregistrée"))


@dataclass(frozen=True)
class FormSnapshot:
    subject_number: str
    event: EventDef
    form: FormDef  # the definition the data was entered under (may be older than the current one)
    current_version: str
    status: FormStatus
    state: FormState
    typed: dict[CellKey, tuple[str, str | None]]

    @property
    def outdated(self) -> bool:
        return self.form.version != self.current_version


@dataclass(frozen=True)
class SaveResult:
    saved: bool
    status: FormStatus
    issues: tuple[Issue, ...]
    changes: Changes = NO_CHANGES


@dataclass(frozen=True)
class RowAdded:
    row: int
    changes: Changes


@dataclass(frozen=True)
class FormRef:
    """Which form: subject number, visit (study event) id, form id."""

    subject: str
    event: str
    form: str


def reason_required(status: FormStatus, field: L) -> ValidationError:
    """The refusal of a change to a completed form without a reason, naming what the change will undo."""
    msg = Msg.CHANGE_REASON_REQUIRED_SIGNED if status is FormStatus.SIGNED else \
        Msg.CHANGE_REASON_REQUIRED_VERIFIED if status is FormStatus.VERIFIED else Msg.CHANGE_REASON_REQUIRED
    return ValidationError(msg, field=field)


def key_text(key: CellKey) -> str:
    return f"{key[0]}|{key[1]}|{key[2]}"


def parse_key_text(text: str) -> CellKey:
    group, row, item = text.split("|")
    return (group, int(row), item)


class DataEntry:
    def __init__(self, ctx: ServiceContext, study: StudyDef, drafts: Drafts) -> None:
        self.ctx = ctx
        self.study = study
        self.drafts = drafts
        for form in study.forms.values():
            reads.remember_definition(form)

    # ----- helpers -------------------------------------------------------------------------------------------
    def _form_perm(self, form: FormDef) -> Perm:
        return Perm.ENTER_NURSING_DATA if form.entry == "nursing" else Perm.ENTER_CLINICAL_DATA

    def _lookup(self, event_id: str, form_id: str) -> tuple[EventDef, FormDef]:
        try:
            event = self.study.event(event_id)
        except KeyError:
            raise ValidationError(Msg.FORM_NOT_IN_EVENT, form=form_id, event=event_id) from None
        if form_id not in event.forms or form_id not in self.study.forms:
            raise ValidationError(Msg.FORM_NOT_IN_EVENT, form=form_id, event=event_id)
        return event, self.study.forms[form_id]

    def form_perm(self, form_id: str) -> Perm:
        """The permission that entering data in this form needs."""
        return self._form_perm(self.study.forms[form_id])

    @contextlib.contextmanager
    def _editing(self, ref: FormRef, *, kept: bool = True) -> Iterator[tuple[Tx, Editing]]:
        """One write transaction on a form, read for writing (a subject locked as a whole is refused). ``kept``: the
        form as left by this process's previous save is used when nothing was written since, and kept for the next
        one once this transaction has committed (an error drops it: its state may hold what was refused)."""
        event, current = self._lookup(ref.event, ref.form)
        store = self.ctx.store
        cache = editing.cache_of(store)
        key = cache.key(ref.subject, ref.event, current)
        with self.ctx.write() as tx:
            generation = store.generation
            ed = cache.take(key, generation) if kept else None
            if ed is None:
                ed = editing.load(tx.connection, self.study, ref.subject, event, current,
                                  now=self.ctx.local_now())
            else:
                editing.refreshed(ed, self.ctx.local_now())
            yield tx, ed
        if kept:  # committed: valid until the next write of anyone
            cache.keep(key, generation + 1, ed)

    def _accept(self, state: FormState, key: CellKey, text: str, unit: str | None, *, confirm: bool) -> None:
        """Put typed text in the state; refuse an impossible value, and an unusual one unless confirmed (the
        rule is the engine's ``acceptance``, which the screen asks too)."""
        state.set_text(key, text, unit)
        refused, unconfirmed = state.acceptance(key)
        if refused is not None:
            raise ValidationError(Msg.VALUE_REFUSED, problem=refused.message)
        if unconfirmed is not None and not confirm:
            raise SoftCheckNeedsConfirmation(Msg.VALUE_NEEDS_CONFIRMATION, problem=unconfirmed.message)
        if unconfirmed is not None:
            state.confirm(key)

    def _ensure_instance(self, tx: Tx, ed: Editing) -> int:
        if ed.instance_id is not None:
            return ed.instance_id
        if ed.subject_status == "locked":  # the whole subject was locked at the end of the study
            raise ValidationError(Msg.FORM_LOCKED)
        require_owner(tx.session, ed.subject)  # only the owning workstation starts a subject's forms (issue 18)
        instance_id = editing.create_instance(tx.connection, ed, self.ctx.now(), self.ctx.actor.user_id,
                                              next_id(tx.session, "form_instance"))
        form = ed.form
        tx.audit(Action.CREATE, subject=ed.subject, visit=ed.event.id, form=form.id,
                 new_value=FormStatus.DRAFT.value,
                 detail=f"form instance created under version {form.version} ({form.content_hash()[:32]})")
        return instance_id

    def _check_key(self, state: FormState, form: FormDef, key: CellKey) -> None:
        group_id, row, item_id = key
        try:
            item = form.item(item_id)
            group = form.group_of(item_id)
        except KeyError:
            raise ValidationError(Msg.ITEM_UNKNOWN, form=form.id, item=item_id) from None
        if group.id != group_id or row not in state.rows[group_id]:
            raise ValidationError(Msg.ROW_UNKNOWN, group=group.label.as_l(), row=row)
        if item.calc:
            raise ValidationError(Msg.ITEM_CALCULATED, field=item.label.as_l())

    def can_edit(self, form_id: str) -> bool:
        """Whether this user's role may enter data in the form (the screen is read-only otherwise)."""
        form = self.study.forms.get(form_id)
        return form is not None and self.ctx.can(self._form_perm(form))

    # ----- reading -------------------------------------------------------------------------------------------
    def open_form(self, ref: FormRef) -> FormSnapshot:
        subject_number = ref.subject
        self.ctx.require(Perm.VIEW_DATA, subject=subject_number)
        event, current = self._lookup(ref.event, ref.form)
        with self.ctx.read() as session:
            ed = editing.load(session.connection(), self.study, subject_number, event, current,
                              now=self.ctx.local_now(), writable=False, wording=licensed.apply)
        typed = self.typed_buffer(ref)
        state, form = ed.state, ed.form
        for key, (text, unit) in typed.items():
            if key in state.cells and not form.item(key[2]).calc:
                state.set_text(key, text, unit)
        return FormSnapshot(subject_number, event, form, current.version, ed.status, state, typed)

    def statuses(self, subject_number: str) -> dict[tuple[str, str], FormStatus]:
        """(event, form) -> status for every form instance of a subject."""
        self.ctx.require(Perm.VIEW_DATA, subject=subject_number)
        with self.ctx.read() as session:
            subject = reads.subject(session, subject_number)
            return {(r.event_id, r.form_id): FormStatus(r.status) for r in reads.instances(session, subject.id)}

    def item_history(self, ref: FormRef, key: CellKey) -> list[AuditRecord]:
        """Who changed this item, when, from what, to what and why, and on which workstation (oldest first: by the
        time it was recorded, since copies from another workstation arrive after later local changes)."""
        from msc_sle_crf.services.integrity import recorded_on
        from msc_sle_crf.sync.identity import this_workstation

        subject_number, event_id, form_id = ref.subject, ref.event, ref.form
        self.ctx.require(Perm.VIEW_DATA, subject=subject_number)
        query = select(AuditEvent).where(
            AuditEvent.subject == subject_number, AuditEvent.form == form_id, AuditEvent.item == key[2],
            AuditEvent.visit == event_id, AuditEvent.repeat_key == f"{key[0]}:{key[1]}") \
            .order_by(AuditEvent.ts_utc, AuditEvent.id)
        with self.ctx.read() as session:
            here = this_workstation(session)
            return [AuditRecord.of(e, recorded_on(e, here)) for e in session.execute(query).scalars()]

    # ----- typing buffer (unaccepted text, never lost) --------------------------------------------------------
    def _buffer_key(self, ref: FormRef) -> str:
        return f"typing:{ref.subject}:{ref.event}:{ref.form}"

    def typed_buffer(self, ref: FormRef) -> dict[CellKey, tuple[str, str | None]]:
        payload = self.drafts.load(self._buffer_key(ref)) or {}
        out: dict[CellKey, tuple[str, str | None]] = {}
        for k, v in payload.items():
            try:
                out[parse_key_text(k)] = (str(v["text"]), v.get("unit"))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def save_typing(self, ref: FormRef, key: CellKey, text: str | None,
                    unit: str | None = None) -> None:
        """Keep what is being typed (encrypted, this user only) until it is accepted or cleared."""
        self.save_typing_many(ref, {key: None if text is None else (text, unit)})

    def save_typing_many(self, ref: FormRef, typed: dict[CellKey, tuple[str, str | None] | None]) -> None:
        """Several fields' typing at once (None: cleared), in one transaction that touches no data."""
        for entry in typed.values():
            if entry is not None:
                limits.typed(entry[0])
        self.drafts.update_entries(self._buffer_key(ref), {
            key_text(key): None if entry is None else {"text": entry[0], "unit": entry[1]}
            for key, entry in typed.items()})

    # ----- writing -------------------------------------------------------------------------------------------
    def save_item(self, ref: FormRef, key: CellKey, text: str,
                  unit: str | None = None, *, confirm: bool = False, reason: str | None = None) -> SaveResult:
        """Check and store one typed value. Raises ``ValidationError`` (refused) or
        ``SoftCheckNeedsConfirmation`` (unusual, not stored until confirmed). What this user was typing in the
        field is cleared from the typing buffer in the same transaction."""
        reason = limits.reason(reason)
        limits.typed(text)
        _event, current = self._lookup(ref.event, ref.form)
        self.ctx.require(self._form_perm(current), subject=ref.subject)
        with self._editing(ref) as (tx, ed):
            self._check_key(ed.state, ed.form, key)
            item = ed.form.item(key[2])
            if unit is not None and (unit == item.unit or item.type not in NUMERIC_TYPES):
                unit = None
            self._accept(ed.state, key, text, unit, confirm=confirm)
            saved, status = self._store_cell(tx, ed, key, reason)
            self.drafts.remove_entry(tx, self._buffer_key(ref), key_text(key))
        return SaveResult(saved, status, ed.state.issues(key), tx.changes)

    def save_values(self, ref: FormRef, values: dict[CellKey, str], *, confirm: bool = False,
                    reason: str | None = None) -> Changes:
        """Enter several values of one form in one transaction (imports, the demo database): each is checked,
        stored and audited exactly as ``save_item`` does; rows of repeating groups are created as needed."""
        reason = limits.reason(reason)
        for text in values.values():
            limits.typed(text)
        _event, current = self._lookup(ref.event, ref.form)
        self.ctx.require(self._form_perm(current), subject=ref.subject)
        with self._editing(ref) as (tx, ed):
            form, state = ed.form, ed.state
            for key, text in values.items():
                group = form.group_of(key[2]) if form.has_item(key[2]) else None
                if group is not None and group.repeating and key[1] not in state.rows[group.id]:
                    require_owner(tx.session, ref.subject)
                    instance_id = self._ensure_instance(tx, ed)
                    tx.session.add(FormRow(instance_id=instance_id, group_id=group.id, row_no=key[1], removed=False,
                                           created_utc=self.ctx.now()))
                    tx.audit(Action.ROW_ADD, subject=ref.subject, visit=ref.event, form=ref.form,
                             repeat_key=f"{group.id}:{key[1]}", reason=reason)
                    state.add_row(group.id, key[1])
                self._check_key(state, form, key)
                self._accept(state, key, text, None, confirm=confirm)
                self._store_cell(tx, ed, key, reason)
        return tx.changes

    def set_missing(self, ref: FormRef, key: CellKey, code: MissingCode | str,
                    missing_reason: str, *, reason: str | None = None) -> SaveResult:
        """Record why a value cannot be given: not done, unknown or not applicable, with a reason."""
        reason = limits.reason(reason)
        missing_reason = limits.text(missing_reason, limits.MISSING_REASON, limits.MAX_MISSING_REASON)
        _event, current = self._lookup(ref.event, ref.form)
        self.ctx.require(self._form_perm(current), subject=ref.subject)
        code = MissingCode(code)
        with self._editing(ref) as (tx, ed):
            self._check_key(ed.state, ed.form, key)
            item = ed.form.item(key[2])
            if code not in item.missing:
                raise ValidationError(Msg.MISSING_CODE_NOT_ALLOWED, field=item.label.as_l(),
                                      code=L(code.label(), code.label()))
            if not missing_reason.strip():
                raise ValidationError(Msg.MISSING_REASON_REQUIRED, field=item.label.as_l(),
                                      code=L(code.label(), code.label()))
            ed.state.set_missing(key, code, missing_reason)
            saved, status = self._store_cell(tx, ed, key, reason)
            self.drafts.remove_entry(tx, self._buffer_key(ref), key_text(key))
        return SaveResult(saved, status, ed.state.issues(key), tx.changes)

    def _store_cell(self, tx: Tx, ed: Editing, key: CellKey, reason: str | None) -> tuple[bool, FormStatus]:
        """Store one checked cell (and its audit record) in ``tx``; (stored?, the form's state after)."""
        form, state = ed.form, ed.state
        item = form.item(key[2])
        cell = state.cell(key)
        current_status = ed.status
        if current_status is FormStatus.LOCKED:
            raise ValidationError(Msg.FORM_LOCKED)
        complete = current_status.completed
        row = ed.stored.get(key)
        new_value = V.to_storage(cell.value)
        confirmed = ";".join(sorted(cell.confirmed)) or None
        new: Stored = (new_value, cell.unit, cell.missing.value if cell.missing else None, cell.missing_reason,
                       confirmed)
        if row is None and new_value is None and cell.missing is None:
            return False, current_status
        clean_reason = (reason or "").strip() or None
        if row is not None and row == new:
            if ed.instance_id is not None and self._resolve_conflicts(tx, ed, key, clean_reason, item):
                return True, current_status  # the value in conflict confirmed as the right one (issue 18)
            return False, current_status
        if complete and clean_reason is None:
            raise reason_required(ed.status, item.label.as_l())
        self._ensure_instance(tx, ed)
        now = self.ctx.now()
        old_text = _describe(row[0], row[1], row[2], row[3]) if row else None
        canonical = state.canonical(key) if cell.unit else None  # only a value in another unit is converted
        editing.store_value(tx.connection, ed, key, new,
                            canonical=V.to_storage(canonical) if cell.unit else None, now=now,
                            user_id=self.ctx.actor.user_id)
        detail = None
        confirmations = [i for i in state.issues(key) if i.severity is Severity.SOFT and i.confirmed]
        if confirmations:
            detail = "confirmed: " + "; ".join(i.message.en for i in confirmations)
        if cell.unit and canonical is not None:
            detail = ((detail + "; ") if detail else "") + f"= {V.to_storage(canonical)} {item.unit}"
        tx.audit(Action.DATA_CHANGE if complete else Action.DATA_ENTRY,
                 subject=ed.subject, visit=ed.event.id, form=form.id, item=key[2],
                 repeat_key=f"{key[0]}:{key[1]}", old_value=old_text,
                 new_value=_describe(new_value, cell.unit, new[2], cell.missing_reason),
                 reason=clean_reason, detail=detail)
        if ed.instance_id is not None:
            self._resolve_conflicts(tx, ed, key, clean_reason, item)
        # A change on a completed form may hide values: cleared now, as at completion (h60); a draft's wait for it.
        self._clear_hidden(tx, ed, Action.DATA_CHANGE if complete else None, clean_reason)
        if confirmations:  # a flagged value the site confirmed: the monitor reviews it (automatic query)
            self._automatic_query(tx, ed, key, "; ".join(i.message.en for i in confirmations))
        status = ed.status
        if status in (FormStatus.VERIFIED, FormStatus.SIGNED):
            # Verified or signed data changed: the verification no longer holds, and the signature's content no
            # longer matches (it shows as invalid everywhere); the form goes back to "complete".
            if status is FormStatus.SIGNED:
                tx.audit(Action.SIGNATURE_INVALIDATED, subject=ed.subject, visit=ed.event.id, form=form.id,
                         item=key[2], reason=clean_reason, detail="signed data changed")
            status = self._set_status(tx, ed, FormStatus.COMPLETE, f"{status} -> complete: data changed",
                                      clean_reason)
        if complete and state.blockers():
            status = self._set_status(tx, ed, FormStatus.DRAFT,
                                      "complete -> draft: " + state.blockers()[0].message.en, clean_reason)
        return True, status

    def _resolve_conflicts(self, tx: Tx, ed: Editing, key: CellKey, reason: str | None, item: Any) -> bool:
        """A value entered where two workstations disagreed (issue 18) resolves the conflict: audited, with a
        reason."""
        from msc_sle_crf.sync import merge

        assert ed.instance_id is not None
        if key not in ed.conflicts:  # the form's open conflicts, read with it (services.editing): none here
            return False
        # Resolved here, undone with the whole transaction if the reason is missing (the form is then read again).
        from msc_sle_crf.services.row_times import row_time

        now = row_time(tx)  # the conflicts' resolution time and their records': one reading (issue 18)
        resolved = merge.resolve_on_entry(tx.session, ed.instance_id, key, now)
        ed.conflicts.discard(key)
        if not resolved:
            return False
        if reason is None:
            raise ValidationError(Msg.CHANGE_REASON_REQUIRED, field=item.label.as_l())
        for cid in resolved:
            tx.audit(Action.CONFLICT_RESOLVED, subject=ed.subject, visit=ed.event.id, form=ed.form.id, item=key[2],
                     repeat_key=f"{key[0]}:{key[1]}", reason=reason, detail=f"conflict #{cid} resolved", ts_utc=now)
        return True

    def _automatic_query(self, tx: Tx, ed: Editing, key: CellKey, text: str) -> None:
        from msc_sle_crf.services.row_times import row_time

        now = row_time(tx)  # the query's time and its record's: one reading (issue 18)
        actor = self.ctx.actor
        assert ed.instance_id is not None
        query = DataQuery(instance_id=ed.instance_id, group_id=key[0], row_no=key[1], item_id=key[2],
                          status="open", automatic=True, opened_utc=now)
        tx.session.add(query)
        tx.session.flush()
        tx.session.add(QueryMessage(query_id=query.id, kind="auto", username=actor.username, role=actor.role.value,
                                    utc=now, text=text))
        tx.audit(Action.QUERY, subject=ed.subject, visit=ed.event.id, form=ed.form.id, item=key[2],
                 repeat_key=f"{key[0]}:{key[1]}", new_value="open", detail=f"query #{query.id} auto: {text}"[:2000],
                 ts_utc=now)

    def _clear_hidden(self, tx: Tx, ed: Editing, action: Action | None, reason: str | None) -> None:
        """Clear every value whose show-if turned false (what REDCap and OpenClinica do): the screen and the PDF
        hide it, so neither the scores, the export nor the signature may still read it. Each is audited with
        ``reason`` (at completion the automatic one, on a completed form the reason of the change that hid it);
        the state follows, and so do values hidden in turn by a cleared one. ``action`` None: nothing to do."""
        if action is None:
            return
        state = ed.state
        while hidden := state.hidden_with_value():
            for key in hidden:
                state.set_missing(key, None, None)  # empties the cell: value, unit, missing code, confirmations
                row = ed.stored.get(key)
                if row is None or row == (None, None, None, None, None):
                    continue
                editing.store_value(tx.connection, ed, key, (None, None, None, None, None),
                                    canonical=None, now=self.ctx.now(), user_id=self.ctx.actor.user_id)
                tx.audit(action, subject=ed.subject, visit=ed.event.id, form=ed.form.id, item=key[2],
                         repeat_key=f"{key[0]}:{key[1]}", old_value=_describe(row[0], row[1], row[2], row[3]),
                         new_value=None, reason=reason,
                         detail=None if action is Action.DATA_ENTRY else "not applicable (condition not met)")

    def _set_status(self, tx: Tx, ed: Editing, status: FormStatus, detail: str,
                    reason: str | None = None) -> FormStatus:
        assert ed.instance_id is not None
        old = ed.status
        tx.session.flush()  # rows added through the session go first
        editing.set_status(tx.connection, ed.instance_id, status, self.ctx.now(), self.ctx.actor.user_id)
        ed.status = status
        tx.audit(Action.STATUS_CHANGE, subject=ed.subject, visit=ed.event.id, form=ed.form.id, old_value=old.value,
                 new_value=status.value, reason=reason, detail=detail)
        return status

    def add_row(self, ref: FormRef, group_id: str, *, reason: str | None = None) -> RowAdded:
        reason = limits.reason(reason)
        _event, current = self._lookup(ref.event, ref.form)
        self.ctx.require(self._form_perm(current), subject=ref.subject)
        with self._editing(ref, kept=False) as (tx, ed):
            session = tx.session
            form = ed.form
            require_owner(session, ref.subject)  # rows are added on the owning workstation only (issue 18)
            instance_id = self._ensure_instance(tx, ed)
            group = next((g for g in form.groups if g.id == group_id and g.repeating), None)
            if group is None:
                raise ValidationError(Msg.ITEM_UNKNOWN, form=ref.form, item=group_id)
            rows = session.execute(select(FormRow).where(FormRow.instance_id == instance_id,
                                                         FormRow.group_id == group_id)).scalars().all()
            live = [r for r in rows if not r.removed]
            if group.max_rows is not None and len(live) >= group.max_rows:
                raise ValidationError(Msg.ROW_LIMIT, group=group.label.as_l(), count=group.max_rows)
            clean_reason = (reason or "").strip() or None
            status = ed.status
            if status is FormStatus.LOCKED:
                raise ValidationError(Msg.FORM_LOCKED)
            if status.completed and clean_reason is None:
                raise reason_required(status, group.label.as_l())
            number = max((r.row_no for r in rows), default=0) + 1  # numbers are never reused
            session.add(FormRow(instance_id=instance_id, group_id=group_id, row_no=number, removed=False,
                                created_utc=self.ctx.now()))
            tx.audit(Action.ROW_ADD, subject=ref.subject, visit=ref.event, form=ref.form,
                     repeat_key=f"{group_id}:{number}", reason=clean_reason)
            if status is FormStatus.SIGNED:  # the signed content changes (a row), as a changed value or a removed row
                tx.audit(Action.SIGNATURE_INVALIDATED, subject=ref.subject, visit=ref.event, form=ref.form,
                         reason=clean_reason, detail="signed data changed: row added")
            if status.completed:
                self._set_status(tx, ed, FormStatus.DRAFT, f"{status} -> draft: new row", clean_reason)
        return RowAdded(number, tx.changes)

    def remove_row(self, ref: FormRef, group_id: str, row_no: int, reason: str) -> Changes:
        """Mark a row removed (its values stay in the database and in the audit trail). A reason is required."""
        reason = limits.text(reason, limits.REASON, limits.MAX_REASON)
        _event, current = self._lookup(ref.event, ref.form)
        self.ctx.require(self._form_perm(current), subject=ref.subject)
        with self._editing(ref, kept=False) as (tx, ed):
            session = tx.session
            row = None if ed.instance_id is None else session.execute(select(FormRow).where(
                FormRow.instance_id == ed.instance_id, FormRow.group_id == group_id, FormRow.row_no == row_no,
                FormRow.removed.is_(False))).scalar_one_or_none()
            if row is None or ed.instance_id is None:
                raise ValidationError(Msg.ROW_UNKNOWN, group=group_id, row=row_no)
            status = ed.status
            if status is FormStatus.LOCKED:
                raise ValidationError(Msg.FORM_LOCKED)
            if not reason.strip():
                raise ValidationError(Msg.REASON_REQUIRED)
            row.removed = True
            values = session.execute(select(ItemValue).where(
                ItemValue.instance_id == ed.instance_id, ItemValue.group_id == group_id,
                ItemValue.row_no == row_no)).scalars().all()
            old = json.dumps({v.item_id: _describe(v.value, v.unit, v.missing_code, v.missing_reason)
                              for v in values}, ensure_ascii=False, sort_keys=True)
            # its new value: the state the removal leaves the form in (a side of a form state conflict between
            # workstations may be this record: sync/merge.py, replay ``content_state``; h79)
            after = FormStatus.COMPLETE if status in (FormStatus.VERIFIED, FormStatus.SIGNED) else status
            tx.audit(Action.ROW_REMOVE, subject=ref.subject, visit=ref.event, form=ref.form,
                     repeat_key=f"{group_id}:{row_no}", old_value=old, new_value=after.value, reason=reason.strip())
            if status in (FormStatus.VERIFIED, FormStatus.SIGNED):
                if status is FormStatus.SIGNED:
                    tx.audit(Action.SIGNATURE_INVALIDATED, subject=ref.subject, visit=ref.event, form=ref.form,
                             reason=reason.strip(), detail="signed data changed: row removed")
                self._set_status(tx, ed, FormStatus.COMPLETE, f"{status} -> complete: row removed", reason.strip())
        return tx.changes

    def mark_complete(self, ref: FormRef) -> Changes:
        """Run every check; raise ``FormIncomplete`` listing what blocks, or mark the form complete."""
        typed = self.typed_buffer(ref)
        _event, current = self._lookup(ref.event, ref.form)
        self.ctx.require(self._form_perm(current), subject=ref.subject)
        # Kept for the next save only when it succeeds: then no typed text was put in the state (any would have
        # blocked completion, and a refusal drops the form).
        with self._editing(ref) as (tx, ed):
            form, state = ed.form, ed.state
            # Text this user typed but that was not accepted counts: "31/02/1980" is an error, not "empty".
            unsaved: list[Issue] = []
            for key, (text, unit) in typed.items():
                if key not in state.cells or form.item(key[2]).calc or not state.visible(key):
                    continue  # a hidden field's typing is kept (shown again with the field) and blocks nothing
                state.set_text(key, text, unit)
                if not [i for i in state.issues(key) if i.severity is not Severity.MISSING]:
                    unsaved.append(unsaved_issue(form, key))
            blockers = state.blockers() + unsaved
            if blockers:
                raise FormIncomplete(blockers)
            instance_id = self._ensure_instance(tx, ed)
            status = ed.status
            if status.completed or status is FormStatus.LOCKED:
                return NO_CHANGES
            # Values left in items that no longer apply (their show-if turned false) are cleared, with a trace.
            self._clear_hidden(tx, ed, Action.DATA_ENTRY, "not applicable (condition not met) at completion")
            _ = instance_id
            self._set_status(tx, ed, FormStatus.COMPLETE, "all checks passed")
        return tx.changes


def _describe(value: str | None, unit: str | None, missing: str | None, missing_reason: str | None) -> str | None:
    """How a stored value reads in the audit trail."""
    if missing:
        return f"[{missing}] {missing_reason or ''}".strip()
    if value is None:
        return None
    return f"{value} {unit}" if unit else value
