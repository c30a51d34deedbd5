"""The write side of data entry, kept near the cost of the write itself (issue 13).

A form being written to is an ``Editing``: where it is (subject, visit, form, instance, state), the definition it
was entered under, its checked ``FormState`` and its stored values exactly as they are in the database. It is read
with plain SQL statements (no ORM objects), or taken from ``EditCache`` when this process wrote nothing else since
it was read: every commit that may change data moves ``Store.generation`` on (whoever made it: another user's
workspace after a takeover, the bedside, a background job), and an entry is valid for one generation only. A save
then re-checks only what depends on the changed item (``FormState.set_text``), writes its row, the form's time and
its audit record in one transaction, and keeps the entry for the next save.

Only ``services.entry`` uses this module; the rules (what is refused, confirmed, audited) stay there.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import EventDef, FormDef, MissingCode, StudyDef
from msc_sle_crf.formdef.engine import CellKey, FormContext, FormState
from msc_sle_crf.services import reads
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.db import Store, driver_statements

# value, unit, missing code, missing reason, confirmed rules: an item_value row as stored
Stored = tuple[str | None, str | None, str | None, str | None, str | None]

_FIND = ("SELECT s.id, s.status, s.birth_year, fi.id, fi.status, fi.form_hash FROM subject s "
         "LEFT JOIN form_instance fi ON fi.subject_id = s.id AND fi.event_id = ? AND fi.form_id = ? "
         "WHERE s.subject_number = ?")
_ANCHOR = ("SELECT iv.value FROM item_value iv JOIN form_instance fi ON fi.id = iv.instance_id "
           "WHERE fi.subject_id = ? AND fi.event_id = ? AND fi.form_id = ? AND iv.item_id = ?")
_ROWS = "SELECT group_id, row_no, removed FROM form_row WHERE instance_id = ?"
_VALUES = ("SELECT group_id, row_no, item_id, value, unit, missing_code, missing_reason, confirmed FROM item_value "
           "WHERE instance_id = ?")
_INSERT_VALUE = ("INSERT INTO item_value (instance_id, group_id, row_no, item_id, value, unit, canonical, "
                 "missing_code, missing_reason, confirmed, updated_utc, updated_by) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_UPDATE_VALUE = ("UPDATE item_value SET value = ?, unit = ?, canonical = ?, missing_code = ?, missing_reason = ?, "
                 "confirmed = ?, updated_utc = ?, updated_by = ? "
                 "WHERE instance_id = ? AND group_id = ? AND row_no = ? AND item_id = ?")
_TOUCH_INSTANCE = "UPDATE form_instance SET updated_utc = ? WHERE id = ?"
_SET_STATUS = "UPDATE form_instance SET status = ? WHERE id = ?"
_SET_COMPLETE = "UPDATE form_instance SET status = ?, completed_utc = ?, completed_by = ? WHERE id = ?"
_HAS_SNAPSHOT = "SELECT 1 FROM form_definition WHERE content_hash = ?"
_INSERT_SNAPSHOT = ("INSERT INTO form_definition (content_hash, form_id, version, definition_json, first_used_utc) "
                    "VALUES (?, ?, ?, ?, ?)")
# The items of a form where two workstations' values disagree (issue 18): a value entered there resolves them.
_CONFLICTS = "SELECT group_id, row_no, item_id FROM item_conflict WHERE instance_id = ? AND status = 'open'"
_INSERT_INSTANCE = ("INSERT INTO form_instance (id, subject_id, event_id, form_id, form_version, form_hash, status, "
                    "created_utc, created_by, updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


@dataclass
class Editing:
    """A form being written to, as stored (see the module's docstring)."""

    subject: str  # subject number
    event: EventDef
    form: FormDef  # the definition the data was entered under
    subject_id: int
    subject_status: str
    instance_id: int | None  # None: not started (created by the first value stored)
    status: FormStatus
    state: FormState
    stored: dict[CellKey, Stored]
    # Items with an open conflict (issue 18), as read with the form: packets that open conflicts and screens that
    # resolve them write data, which moves ``Store.generation`` on and drops this entry, so a kept entry's set is
    # the database's. A save looks here instead of asking the database each time.
    conflicts: set[CellKey] = field(default_factory=set)


def context(conn: Connection, study: StudyDef, subject_id: int, birth_year: int | None, event: EventDef, *,
            now: dt.datetime) -> FormContext:
    """What the checks need to know: now, the year of birth, day 0 (the anchor item) and the visit's window."""
    window = None
    day0 = None
    anchor = study.meta.anchor
    if anchor is not None:
        found = conn.exec_driver_sql(_ANCHOR, (subject_id, anchor.event, anchor.form, anchor.item)).fetchall()
        if len(found) > 1:
            raise ValueError("several day-0 values for one subject")
        if found and found[0][0]:
            day0 = dt.date.fromisoformat(str(found[0][0])[:10])
        if day0 is not None and event.day is not None:
            planned = day0 + dt.timedelta(days=event.day)
            window = (planned - dt.timedelta(days=event.window_before),
                      planned + dt.timedelta(days=event.window_after))
    return FormContext(now=now, birth_year=birth_year, window=window, day0=day0)


def load(conn: Connection, study: StudyDef, subject: str, event: EventDef, current: FormDef, *, now: dt.datetime,
         writable: bool = True, wording: Callable[[FormDef], FormDef] | None = None) -> Editing:
    """Read a form (for a change, a subject locked as a whole is refused; ``wording``: the labels shown)."""
    row = conn.exec_driver_sql(_FIND, (event.id, current.id, subject)).first()
    if row is None:
        raise ValidationError(Msg.SUBJECT_UNKNOWN, subject=subject)
    subject_id, subject_status, birth_year, instance_id, status, form_hash = row
    if writable and subject_status == "locked":
        raise ValidationError(Msg.SUBJECT_LOCKED, subject=subject)
    form = current if instance_id is None else reads.definition_by_hash(conn, str(form_hash), current)
    if wording is not None:
        form = wording(form)
    state = FormState(form, context(conn, study, subject_id, birth_year, event, now=now), dict(study.meta.codelists))
    stored: dict[CellKey, Stored] = {}
    if instance_id is not None:
        removed = set()
        for group_id, row_no, is_removed in conn.exec_driver_sql(_ROWS, (instance_id,)):
            if is_removed:
                removed.add((group_id, row_no))
            elif group_id in state.rows:
                state.load_row(group_id, row_no)
        for group_id, row_no, item_id, value, unit, missing, missing_reason, confirmed in conn.exec_driver_sql(
                _VALUES, (instance_id,)):
            key = (group_id, row_no, item_id)
            stored[key] = (value, unit, missing, missing_reason, confirmed)
            if (group_id, row_no) in removed or not form.has_item(item_id):
                continue
            item = form.item(item_id)
            if item.calc:
                continue
            state.load(key, V.from_storage(item, value), unit=unit,
                       missing=MissingCode(missing) if missing else None, missing_reason=missing_reason,
                       confirmed=[c for c in (confirmed or "").split(";") if c])
    state.revalidate_all()
    conflicts: set[CellKey] = set()
    if writable and instance_id is not None:
        conflicts = {(str(g), int(r), str(i)) for g, r, i in conn.exec_driver_sql(_CONFLICTS, (instance_id,))}
    return Editing(subject, event, form, subject_id, str(subject_status), instance_id,
                   FormStatus.of(str(status) if status else None), state, stored, conflicts)


# ----- writes -------------------------------------------------------------------------------------------------
def store_value(conn: Connection, ed: Editing, key: CellKey, new: Stored, *, canonical: str | None, now: str,
                user_id: int) -> None:
    """Insert or update one value row and the form's time of change; ``ed.stored`` follows."""
    assert ed.instance_id is not None
    value, unit, missing, missing_reason, confirmed = new
    execute = driver_statements(conn)
    if key in ed.stored:
        execute(_UPDATE_VALUE, (value, unit, canonical, missing, missing_reason, confirmed, now, user_id,
                                ed.instance_id, *key))
    else:
        execute(_INSERT_VALUE, (ed.instance_id, *key, value, unit, canonical, missing, missing_reason, confirmed,
                                now, user_id))
    execute(_TOUCH_INSTANCE, (now, ed.instance_id))
    ed.stored[key] = new


def create_instance(conn: Connection, ed: Editing, now: str, user_id: int, new_id: int) -> int:
    """The form instance, created under its definition (whose snapshot is stored once)."""
    form = ed.form
    digest = form.content_hash()
    if conn.exec_driver_sql(_HAS_SNAPSHOT, (digest,)).first() is None:
        conn.exec_driver_sql(_INSERT_SNAPSHOT, (digest, form.id, form.version, form.canonical_json(), now))
    conn.exec_driver_sql(_INSERT_INSTANCE, (new_id, ed.subject_id, ed.event.id, form.id, form.version, digest,
                                            FormStatus.DRAFT.value, now, user_id, now))
    ed.instance_id = new_id
    ed.status = FormStatus.DRAFT
    return ed.instance_id


def set_status(conn: Connection, instance_id: int, status: FormStatus, now: str, user_id: int) -> None:
    if status is FormStatus.COMPLETE:
        conn.exec_driver_sql(_SET_COMPLETE, (status.value, now, user_id, instance_id))
    else:
        conn.exec_driver_sql(_SET_STATUS, (status.value, instance_id))


# ----- what a process keeps between saves ---------------------------------------------------------------------
class EditCache:
    """Forms read for writing, each valid for the store generation after its last write (see the module)."""

    SIZE = 16

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, ...], tuple[int, Editing]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(subject: str, event: str, current: FormDef) -> tuple[str, ...]:
        return (subject, event, current.id, current.content_hash())

    def take(self, key: tuple[str, ...], generation: int) -> Editing | None:
        """The entry if nothing was written since it was kept; it leaves the cache (given back by ``keep``)."""
        with self._lock:
            found = self._entries.pop(key, None)
        if found is None or found[0] != generation:
            return None
        return found[1]

    def keep(self, key: tuple[str, ...], generation: int, ed: Editing) -> None:
        with self._lock:
            self._entries[key] = (generation, ed)
            while len(self._entries) > self.SIZE:
                self._entries.popitem(last=False)


_CACHES: weakref.WeakKeyDictionary[Store, EditCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(store: Store) -> EditCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = EditCache()
        return cache


def refreshed(ed: Editing, now: dt.datetime) -> Editing:
    """A kept entry brought to the present: only the checks that depend on the time are run again."""
    ed.state.set_now(now)
    return ed
