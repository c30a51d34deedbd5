"""Applying a packet's rows, and conflicts that are never silent (issue 18, docs/workstations.md "Conflicts").

Values: per item the packet's records changed, base = the old value of the packet's first record on it. Local equal
to base (nothing changed here) or to the incoming value: the incoming row is applied. Otherwise both workstations
changed it: a conflict. The value kept current is the change recorded first (earlier UTC time; a tie goes to the
lower workstation id), so both sides keep the same whichever imports first; both values are kept in
``item_conflict`` (same id on every workstation: it is made from both changes' origins, ``pair_id``), a
``merge_conflict`` record (the importer's) says both, an automatic query opens on the item, and signatures of the
form and SDV marks of the item are void until the conflict is resolved (``voids``). A side is the change that made a
value: a decision's side is the change it kept (with that record's time). A packet that carries a decision made
elsewhere (its ``merge_conflict`` record on that item or form) is applied only where this workstation still holds
one of the decision's sides; a change made here since meets it as any concurrent change does (a conflict).

Form status and query status: when both sides changed one since the base, the less advanced state is kept (form:
draft < complete < verified < signed < locked; query: open < answered < closed): a form is never left signed or
locked, nor a query closed, over a change the other side did not see. A change of a form's content (a value, a row
added) counts as a change of the form (h69): the importer's when a value or row here differs from the packet's and
the packet holds no record on it (its writer had not heard of it), or the packet changed that value too. A row
removed on one side while a value of it changed on the other is kept (``_row``). A ``merge_conflict`` record names
both, by the records that set them (workstation and id: ``sides``); verify and every import check that they are
records of that form / query / item from two workstations (``Replay._merge_problem``): a conflict made up by hand
changes nothing. No Qt, ORM only (any database).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.services.replay import CONTENT_STATE, FORM_RANK, QUERY_RANK, REMOVAL_STATES, content_state, describe
from msc_sle_crf.store.tables import (
    AppUser,
    AuditEvent,
    DataQuery,
    FormDefinitionSnapshot,
    FormInstance,
    FormRow,
    InfusionEvent,
    ItemConflict,
    ItemValue,
    ItemVerification,
    QueryMessage,
    Signature,
    Subject,
)
from msc_sle_crf.sync import rows as R
from msc_sle_crf.sync.identity import ID_BLOCK, Workstation, ws_number

CONFLICT_BASE = 1_000_000_000  # ids of conflicts and their queries: made from both changes' origins
VALUE_ACTIONS = ("data_entry", "data_change")
FORM_STATUS_ACTIONS = ("status_change", "sign", "lock", "unlock", "source_verified")
ROW_ACTIONS = ("row_add", "row_remove")


@dataclass
class Outcome:
    entries: list[AuditEntry] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """One side of a conflict: the value and the change that made it."""

    text: str | None
    user: str | None
    ws: str
    id: int
    utc: str

    def as_dict(self, row: dict[str, Any] | None) -> dict[str, Any]:
        stored = {c: row.get(c) for c in ("value", "unit", "canonical", "missing_code", "missing_reason")} \
            if row else {}
        return {"text": self.text, "user": self.user, "ws": self.ws, "id": self.id, "utc": self.utc, **stored}


def conflict_id(other: Change) -> int:
    """The id of a conflict recorded before 3 December 2026 (made from its later side only: two conflicts with the
    same later side shared it, h67). Still how those records read; new conflicts get ``pair_id``."""
    return CONFLICT_BASE + (ws_number(other.ws) - 1) * ID_BLOCK + other.id % ID_BLOCK


PAIR_SPAN = 2**31 - 1 - CONFLICT_BASE  # ids stay 32-bit: PostgreSQL's integer columns on the hub


def pair_id(a: Change, b: Change) -> int:
    """The id of the conflict between these two changes: made from both (workstation and record id of each, in
    either order), so the same conflict found on two workstations gets the same id and two conflicts with one side
    in common do not. A hash of both into the ids above CONFLICT_BASE (32-bit ids cannot hold both exactly)."""
    sides = sorted(f"{c.ws}#{c.id}" for c in (a, b))
    digest = hashlib.sha256("|".join(sides).encode()).digest()
    return CONFLICT_BASE + int.from_bytes(digest[:8], "big") % PAIR_SPAN


def side_change(side: Any) -> Change | None:
    """One side of a merge_conflict record's detail (``Change.as_dict``) as a Change (None: not readable)."""
    if not isinstance(side, dict):
        return None
    try:
        return Change(side.get("text"), side.get("user"), str(side["ws"]), int(side["id"]), str(side.get("utc") or ""))
    except (KeyError, TypeError, ValueError):
        return None


def _detail(record: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(record.get("detail") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _decision_sides(record: dict[str, Any]) -> set[tuple[str, int]]:
    """The records a merge_conflict record names as its two sides (item: kept and other; form and query: local and
    incoming), as (workstation, id): what the workstation that decided it held."""
    data = _detail(record)
    sides = data.get("sides") if isinstance(data.get("sides"), dict) else data
    out = set()
    for name in ("kept", "other", "local", "incoming"):
        side = sides.get(name) if isinstance(sides, dict) else None
        if isinstance(side, dict):
            try:
                out.add((str(side["ws"]), int(side["id"])))
            except (KeyError, TypeError, ValueError):
                continue
    return out


def _chunks(values: Sequence[Any], size: int = 1000) -> list[Sequence[Any]]:
    return [values[n:n + size] for n in range(0, len(values), size)]


def _by(session: Session, table: Any, column: Any, values: Any, key: Any) -> dict[Any, Any]:
    """The rows of ``table`` whose ``column`` is one of ``values``, by ``key(row)``: one query per thousand values
    instead of one per row (an import of a workstation's 200 subjects reads ~200,000 rows)."""
    out: dict[Any, Any] = {}
    for chunk in _chunks(sorted(set(values))):
        for obj in session.execute(select(table).where(column.in_(chunk))).scalars():
            out[key(obj)] = obj
    return out


def _ids(session: Session, table: Any, ids: Any) -> set[int]:
    """Which of these ids ``table`` holds already."""
    out: set[int] = set()
    for chunk in _chunks(sorted(set(ids))):
        out.update(int(i) for (i,) in session.execute(select(table.id).where(table.id.in_(chunk))))
    return out


def _form_base(record: dict[str, Any]) -> str | None:
    """The state a form had before the packet's first record that changed it: the record's old value, or for a lock
    of the whole subject 'signed' (every form must be signed or already locked), for its unlock 'locked'."""
    if record.get("form") == "subject":
        return "signed" if record.get("new_value") == "locked" else "locked"
    old = record.get("old_value")
    return str(old) if old is not None else None


def _key(r: dict[str, Any]) -> tuple[str, str, str, str, int, str] | None:
    rk = r.get("repeat_key") or ""
    if ":" not in rk or not (r.get("subject") and r.get("visit") and r.get("form") and r.get("item")):
        return None
    group, _, row = rk.rpartition(":")
    try:
        return str(r["subject"]), str(r["visit"]), str(r["form"]), group, int(row), str(r["item"])
    except ValueError:
        return None


def _side_of(detail: str | None, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return None
    side = data.get(name) if isinstance(data, dict) else None
    return side if isinstance(side, dict) else None


def _row_kind(record: dict[str, Any]) -> bool:
    """A merge_conflict record that kept a row (``_Apply._row``)."""
    try:
        data = json.loads(record.get("detail") or "{}")
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("kind") == "row"


def _conflict_of(record: dict[str, Any]) -> int | None:
    """The item conflict a merge_conflict record opened (None: another kind, or none readable)."""
    try:
        data = json.loads(record.get("detail") or "{}")
    except ValueError:
        return None
    cid = data.get("conflict") if isinstance(data, dict) and data.get("kind") == "item" else None
    return cid if isinstance(cid, int) else None


def _form_state(action: str, form: str | None, item: str | None, *, old: str | None, new: str | None,
                detail: str | None) -> str | None:
    """The state a record leaves a form in, as the replay notes it for a side of a form state conflict
    (``Replay.form_records``), or None: not a record of the form's state or content."""
    if action in (*CONTENT_STATE, "row_remove"):
        return content_state(action, new)
    if item:
        return None
    if form == "subject":  # a lock of the whole subject, or its unlock (every form signed -> locked or back)
        return "locked" if new == "locked" else "signed" if old == "locked" else None
    if action == "merge_conflict":
        try:
            data = json.loads(detail or "{}")
        except ValueError:
            return None
        return new if isinstance(data, dict) and data.get("kind") == "form" else None
    return new if action in FORM_STATUS_ACTIONS else None


def _value_dict(v: ItemValue | None) -> dict[str, Any] | None:
    return None if v is None else {c: getattr(v, c) for c in R.VALUE}


def _text(v: dict[str, Any] | None) -> str | None:
    return None if v is None else describe(v.get("value"), v.get("unit"), v.get("missing_code"),
                                           v.get("missing_reason"))


class _Apply:
    def __init__(self, session: Session, packet: Any, copies: Sequence[dict[str, Any]], ws: Workstation,  # noqa: PLR0917
                 username: str, role: str, now: str) -> None:
        self.s = session
        self.rows: dict[str, list[dict[str, Any]]] = packet.rows
        self.packet_ws = str(packet.manifest["ws"])
        self.copies = copies
        self.ws = ws
        self.username, self.role, self.now = username, role, now
        self.users = {u.username: u.id for u in session.execute(select(AppUser)).scalars()}
        self.me = self.users.get(username, 0)
        self.out = Outcome()
        self.records = [c["record"] for c in copies]
        self.subject_ids: dict[str, int] = {}  # the packet's subjects here (after ``subjects``)
        self.new_values: list[dict[str, Any]] = []  # values not yet here, inserted together
        # who made each value the packet brings: its last record's author (or the kept side's of a decision), never
        # the row's ``updated_by``, which the packet's writer could have rewritten (h67 low)
        self.authors: dict[tuple[str, str, str, str, int, str], str | None] = {}
        for r in self.records:
            key = _key(r)
            if key is not None and r["action"] in VALUE_ACTIONS:
                self.authors[key] = r.get("username")
            elif key is not None and r["action"] == "merge_conflict" and _conflict_of(r) is not None:
                kept = _side_of(r.get("detail"), "kept")
                self.authors[key] = kept.get("user") if kept else None
        self._their_content: dict[int, tuple[dict[Any, Any], dict[Any, Any]]] | None = None

    def uid(self, name: str | None) -> int:
        return self.users.get(name or "", self.me)

    def audit(self, action: Action, **kw: Any) -> None:
        self.out.entries.append(AuditEntry(action, self.username, self.role, **kw))

    # ----- subjects, definitions, forms, rows ------------------------------------------------------------------
    def subjects(self) -> dict[str, int]:
        touched = {r["subject"] for r in self.records if r.get("form") == "subject" and r["action"] == "status_change"}
        handed = {r["subject"] for r in self.records if "handover" in str(r["action"])}
        rows = self.rows.get("subjects", [])
        held = _by(self.s, Subject, Subject.subject_number, [r["subject_number"] for r in rows],
                   lambda x: x.subject_number)
        for row in rows:
            local = held.get(row["subject_number"])
            if local is None:
                self.s.add(Subject(**{c: row[c] for c in R.SUBJECT}, created_by=self.uid(row.get("created_by"))))
            else:
                if row["subject_number"] in touched:
                    local.status = row["status"]
                if row["subject_number"] in handed:
                    local.owner_ws = row["owner_ws"]
        self.s.flush()
        self.subject_ids = {x.subject_number: x.id for x in _by(
            self.s, Subject, Subject.subject_number,
            [r["subject_number"] for r in rows]
            + [r["subject"] for key in ("instances", "infusion") for r in self.rows.get(key, [])],
            lambda x: x.subject_number).values()}
        return self.subject_ids

    def definitions(self) -> None:
        rows = self.rows.get("definitions", [])
        held = _by(self.s, FormDefinitionSnapshot, FormDefinitionSnapshot.content_hash,
                   [r["content_hash"] for r in rows], lambda d: d.content_hash)
        for row in rows:
            if row["content_hash"] not in held:
                self.s.add(FormDefinitionSnapshot(**row))
        self.s.flush()

    def instances(self, subjects: dict[str, int]) -> None:
        rows = self.rows.get("instances", [])
        held = _by(self.s, FormInstance, FormInstance.id, [r["id"] for r in rows], lambda i: i.id)
        for row in rows:
            local = held.get(row["id"])
            if local is None:
                self.s.add(FormInstance(**{c: row[c] for c in R.INSTANCE}, subject_id=subjects[row["subject"]],
                                        created_by=self.uid(row.get("created_by")),
                                        completed_by=self.uid(row["completed_by"]) if row.get("completed_by")
                                        else None))
                continue
            local.updated_utc = max(local.updated_utc, row["updated_utc"])  # the same on both sides
            if local.status == row["status"]:
                continue
            where = (row["subject"], row["event_id"], row["form_id"])
            # what changed this form's state in the packet: its own records, and a lock or unlock of the whole
            # subject (a record on the subject, none on the form: it moved every form signed -> locked or back)
            recs = [r for r in self.records if not r.get("item") and (
                ((r.get("subject"), r.get("visit"), r.get("form")) == where and r["action"] in FORM_STATUS_ACTIONS)
                or (r.get("subject") == where[0] and r.get("form") == "subject"
                    and r["action"] == "status_change"))]
            decided = self._decided_elsewhere(where, [r for r in self.records if r["action"] == "merge_conflict"
                                                      and not r.get("item")
                                                      and (r.get("subject"), r.get("visit"), r.get("form")) == where])
            # a change of the form's content (a value, a row) is a change of the form (h69): the packet's, and
            # this workstation's that the packet's writer had not heard of
            # (a row removal too when its record says the state it left the form in: since h79)
            content = any(content_state(r["action"], r.get("new_value")) is not None
                          and (r.get("subject"), r.get("visit"), r.get("form")) == where for r in self.records)
            if not recs and not decided and not content:
                continue  # the packet did not change it: the local state stands
            base = _form_base(recs[0]) if recs else None
            if (base is not None and local.status == base and not self._changed_here(local.id, where)) \
                    or self._still_a_side(where, decided):
                self._set_form(local, row)
                continue
            mine = local.status
            kept = min((mine, row["status"]), key=lambda st: FORM_RANK.get(st, 0))
            other = row["status"] if kept == mine else mine
            if kept != mine:
                self._set_form(local, row)
            self.audit(Action.MERGE_CONFLICT, subject=where[0], visit=where[1], form=where[2], old_value=other,
                       new_value=kept, detail=json.dumps({"kind": "form", "local": mine, "incoming": row["status"],
                                                          "from": self.packet_ws, "rule": 2,
                                                          "sides": self._form_sides(where, mine, row["status"])},
                                                         sort_keys=True))
            if FORM_RANK.get(mine, 0) >= FORM_RANK["signed"] > FORM_RANK.get(kept, 0) and self.s.execute(
                    select(Signature.id).where(Signature.instance_id == local.id).limit(1)).first():
                self.audit(Action.SIGNATURE_INVALIDATED, subject=where[0], visit=where[1], form=where[2],
                           detail="conflict between workstations: the form changed on another workstation after "
                                  "it was signed here")
            self.out.conflicts.append(f"{where[0]} / {where[1]} / {where[2]}: form state {kept} kept "
                                      f"(the other workstation had {other})")
        self.s.flush()

    def _decided_elsewhere(self, where: tuple[str, str, str], decided: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The packet's form state decisions but those this trail holds already (crossed packets: a decision of
        this rule naming the same two sides): they decide nothing new here (``Replay._on_merge_conflict``)."""
        if not any(_detail(r).get("rule") == 2 for r in decided):
            return decided
        held = set()
        for (d,) in self.s.execute(select(AuditEvent.detail).where(
                AuditEvent.subject == where[0], AuditEvent.visit == where[1], AuditEvent.form == where[2],
                AuditEvent.item.is_(None), AuditEvent.action == "merge_conflict")):
            if _detail({"detail": d}).get("rule") == 2:
                held.add(frozenset(_decision_sides({"detail": d})))
        return [r for r in decided if _detail(r).get("rule") != 2 or frozenset(_decision_sides(r)) not in held]

    def _still_a_side(self, where: tuple[str, str, str], decided: Sequence[dict[str, Any]]) -> bool:
        """A form state decision made elsewhere applies only on what this workstation still holds: its last record
        on the form's state is one of the decision's sides. One made here since meets it as a conflict."""
        if not decided:
            return False
        mine = self._form_sides(where)["local"]
        sides = set().union(*(_decision_sides(r) for r in decided))
        return mine is not None and (mine["ws"], mine["id"]) in sides

    def _last_local(self, *where: Any) -> dict[str, Any] | None:
        """The record this trail holds last among ``where`` (SQL conditions): its workstation and id as everywhere
        (a copy's origin), what it set."""
        rec = self.s.execute(select(AuditEvent).where(*where).order_by(AuditEvent.id.desc()).limit(1)) \
            .scalar_one_or_none()
        if rec is None:
            return None
        origin = audit.parse_origin(rec.origin)
        if origin:
            return {"ws": str(origin.get("ws")), "id": int(origin.get("id") or 0), "state": rec.new_value}
        return {"ws": self.ws.id, "id": rec.id, "state": rec.new_value}

    def _last_incoming(self, match: Any) -> dict[str, Any] | None:
        last = None
        for c in self.copies:
            if match(c["record"]):
                last = {"ws": str(c["ws"]), "id": int(c["id"]), "state": c["record"]["new_value"]}
        return last

    def _form_sides(self, where: tuple[str, str, str], mine: str | None = None,
                    theirs: str | None = None) -> dict[str, Any]:
        """The records of each side of a form state conflict (the replay checks them: ``Replay._merge_problem``):
        on each side, the last record of the form's state or content that left it in the state that side has
        (``mine``, ``theirs``; None: the last record)."""
        on_form = and_(AuditEvent.visit == where[1], AuditEvent.form == where[2], or_(
            and_(AuditEvent.item.is_(None), AuditEvent.action.in_((*FORM_STATUS_ACTIONS, "merge_conflict"))),
            AuditEvent.action.in_((*CONTENT_STATE, "row_remove"))))
        on_subject = and_(AuditEvent.form == "subject", AuditEvent.action == "status_change")  # a subject lock
        local = None
        for rec in self.s.execute(select(AuditEvent).where(AuditEvent.subject == where[0], or_(on_form, on_subject))
                                  .order_by(AuditEvent.id.desc()).limit(500)).scalars():
            state = _form_state(rec.action, rec.form, rec.item, old=rec.old_value, new=rec.new_value,
                                detail=rec.detail)
            if state is None:
                continue
            origin = audit.parse_origin(rec.origin)
            side = {"ws": str(origin.get("ws")), "id": int(origin.get("id") or 0), "state": state} if origin \
                else {"ws": self.ws.id, "id": rec.id, "state": state}
            local = local or side  # none that left it so: the last (the replay then says why)
            if state == mine:
                local = side
                break
        incoming = None
        for c in reversed(self.copies):
            r = c["record"]
            if r.get("subject") != where[0] or (r.get("form") != "subject"
                                                 and (r.get("visit"), r.get("form")) != where[1:]):
                continue
            state = _form_state(r["action"], r.get("form"), r.get("item"), old=r.get("old_value"),
                                new=r.get("new_value"), detail=r.get("detail"))
            if state is None or (r.get("form") == "subject" and r["action"] != "status_change"):
                continue
            side = {"ws": str(c["ws"]), "id": int(c["id"]), "state": state}
            incoming = incoming or side
            if state == theirs:
                incoming = side
                break
        return {"local": local, "incoming": incoming}

    def _content(self, instance_id: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
        """The packet's values (described as in the trail) and rows (removed?) of one form instance."""
        if self._their_content is None:
            self._their_content = {}
            for v in self.rows.get("values", []):
                self._their_content.setdefault(v["instance_id"], ({}, {}))[0][
                    (v["group_id"], v["row_no"], v["item_id"])] = _text(v)
            for r in self.rows.get("rows", []):
                self._their_content.setdefault(r["instance_id"], ({}, {}))[1][(r["group_id"], r["row_no"])] = \
                    bool(r["removed"])
        return self._their_content.get(instance_id, ({}, {}))

    def _changed_here(self, instance_id: int, where: tuple[str, str, str]) -> bool:
        """Whether this workstation changed the form's content since the packet's writer last heard of it: a value
        or row here differs from the packet's and the packet holds no record on it (had its writer imported that
        change, its row would say it; had it changed it since, its record would be in the packet)."""
        touched: dict[tuple[str, int, str], str | None] = {}  # the packet's values: the base of each
        for r in self.records:
            key = _key(r)
            if key is not None and key[:3] == where and r["action"] in (*VALUE_ACTIONS, "merge_conflict"):
                touched.setdefault(key[3:], r["old_value"] if r["action"] in VALUE_ACTIONS else None)
        rows_touched = {str(r.get("repeat_key")) for r in self.records
                        if r["action"] in (*ROW_ACTIONS, "merge_conflict")
                        and (r.get("subject"), r.get("visit"), r.get("form")) == where}
        values, rows = self._content(instance_id)
        here = {(v.group_id, v.row_no, v.item_id): _text(_value_dict(v)) for v in self.s.execute(
            select(ItemValue).where(ItemValue.instance_id == instance_id)).scalars()}
        # a value the packet did not change that differs here; or one it changed that changed here too (a conflict
        # on the item: it is a change of the form on both sides)
        if any(values.get(k) != here.get(k) and (k not in touched or here.get(k) != touched[k])
               for k in set(values) | set(here)):
            return True
        here_rows = {(r.group_id, r.row_no): bool(r.removed) for r in self.s.execute(
            select(FormRow).where(FormRow.instance_id == instance_id)).scalars()}
        # a row added here; or removed here, the packet's row not (a removal written before h79 is not counted: its
        # record does not say the form's state here, so it could not be a side of the conflict)
        if any(f"{k[0]}:{k[1]}" not in rows_touched and k not in rows for k in here_rows):
            return True
        removed = [f"{k[0]}:{k[1]}" for k, gone in here_rows.items()
                   if gone and k in rows and not rows[k] and f"{k[0]}:{k[1]}" not in rows_touched]
        return bool(removed) and self.s.execute(select(AuditEvent.id).where(
            AuditEvent.subject == where[0], AuditEvent.visit == where[1], AuditEvent.form == where[2],
            AuditEvent.action == "row_remove", AuditEvent.repeat_key.in_(removed),
            AuditEvent.new_value.in_(tuple(REMOVAL_STATES))).limit(1)).first() is not None

    def _query_sides(self, qid: int) -> dict[str, Any]:
        """The records of each side of a query status conflict."""
        prefix = f"query #{qid} "
        return {"local": self._last_local(AuditEvent.action == "query", AuditEvent.detail.startswith(prefix)),
                "incoming": self._last_incoming(lambda r: r["action"] == "query"
                                                and str(r.get("detail") or "").startswith(prefix))}

    def _set_form(self, local: FormInstance, row: dict[str, Any]) -> None:
        local.status = row["status"]
        local.completed_utc = row["completed_utc"]
        local.completed_by = self.uid(row["completed_by"]) if row.get("completed_by") else None

    def form_rows(self) -> None:
        removed = {(r["subject"], r["visit"], r["form"], r["repeat_key"]) for r in self.records
                   if r["action"] == "row_remove"}
        where = self._instance_where()
        rows = self.rows.get("rows", [])
        held = _by(self.s, FormRow, FormRow.instance_id, [r["instance_id"] for r in rows],
                   lambda r: (r.instance_id, r.group_id, r.row_no))
        new = []
        for row in rows:
            local = held.get((row["instance_id"], row["group_id"], row["row_no"]))
            if local is None:
                new.append(row)
            elif row["removed"] != local.removed:
                self._row(local, row, where.get(row["instance_id"], ("", "", "")), removed)
        self.s.flush()
        for chunk in _chunks(new):  # new rows in batches (the ORM would send one INSERT each)
            self.s.execute(insert(FormRow), [{c: r[c] for c in R.ROW} for r in chunk])

    def _row(self, local: FormRow, row: dict[str, Any], where: tuple[str, str, str],
             removed: set[tuple[str, str, str, str]]) -> None:
        """A row removed on one side and not on the other. Removed by the packet: removed here too, unless a value
        of it changed here since (the packet's writer had not heard of it); removed here: it stays removed, unless
        the packet changes a value of it. Both: a conflict; the row is kept, on both sides whichever imports first
        (h69, docs/workstations.md "Conflicts"). A packet that carries that decision is applied as it is."""
        repeat_key = f"{row['group_id']}:{row['row_no']}"
        on_row = [c for c in self.copies if (c["record"].get("subject"), c["record"].get("visit"),
                                              c["record"].get("form")) == where
                  and c["record"].get("repeat_key") == repeat_key]
        if any(c["record"]["action"] == "merge_conflict" and _row_kind(c["record"]) for c in on_row) \
                and not row["removed"]:
            local.removed = False  # decided where the packet was written: the row kept
            return
        if row["removed"]:
            if (*where, repeat_key) not in removed:
                return  # not removed by the packet: removed there long ago and kept here by a decision
            mine = self._local_value_change(where, repeat_key, local.instance_id, row)
            if mine is None:
                local.removed = True
                return
            removal = next(c for c in reversed(on_row) if c["record"]["action"] == "row_remove")
            self._row_conflict(where, repeat_key, {"ws": str(removal["ws"]), "id": int(removal["id"])}, mine)
            return
        changes = [c for c in on_row if c["record"]["action"] in VALUE_ACTIONS and c["record"].get("item")]
        if not changes:
            return  # the packet did not change it: the removal here stands
        local.removed = False
        rec = self.s.execute(select(AuditEvent).where(
            AuditEvent.subject == where[0], AuditEvent.visit == where[1], AuditEvent.form == where[2],
            AuditEvent.repeat_key == repeat_key, AuditEvent.action == "row_remove").order_by(AuditEvent.id.desc())
            .limit(1)).scalar_one_or_none()
        if rec is not None:
            self._row_conflict(where, repeat_key, self._identity(rec),
                               {"ws": str(changes[-1]["ws"]), "id": int(changes[-1]["id"]),
                                "user": changes[-1]["record"]["username"]})

    def _identity(self, rec: AuditEvent) -> dict[str, Any]:
        origin = audit.parse_origin(rec.origin)
        if origin:
            return {"ws": str(origin.get("ws")), "id": int(origin.get("id") or 0), "user": rec.username}
        return {"ws": self.ws.id, "id": rec.id, "user": rec.username}

    def _local_value_change(self, where: tuple[str, str, str], repeat_key: str, instance_id: int,
                            row: dict[str, Any]) -> dict[str, Any] | None:
        """The last record here of a value of this row that the packet's writer had not heard of (the value here
        differs from the packet's, which holds no record on it), or None."""
        group, row_no = row["group_id"], row["row_no"]
        touched = {r.get("item") for r in self.records if r.get("repeat_key") == repeat_key
                   and (r.get("subject"), r.get("visit"), r.get("form")) == where
                   and r["action"] in (*VALUE_ACTIONS, "merge_conflict")}
        values, _rows = self._content(instance_id)
        here = {v.item_id: _text(_value_dict(v)) for v in self.s.execute(select(ItemValue).where(
            ItemValue.instance_id == instance_id, ItemValue.group_id == group, ItemValue.row_no == row_no)).scalars()}
        theirs = {k[2]: t for k, t in values.items() if k[:2] == (group, row_no)}
        changed = [i for i in set(here) | set(theirs) if i not in touched and here.get(i) != theirs.get(i)]
        if not changed:
            return None
        rec = self.s.execute(select(AuditEvent).where(
            AuditEvent.subject == where[0], AuditEvent.visit == where[1], AuditEvent.form == where[2],
            AuditEvent.repeat_key == repeat_key, AuditEvent.item.in_(changed),
            AuditEvent.action.in_((*VALUE_ACTIONS, "merge_conflict"))).order_by(AuditEvent.id.desc()).limit(1)) \
            .scalar_one_or_none()
        return None if rec is None else self._identity(rec)

    def _row_conflict(self, where: tuple[str, str, str], repeat_key: str, removal: dict[str, Any],
                      change: dict[str, Any]) -> None:
        self.audit(Action.MERGE_CONFLICT, subject=where[0], visit=where[1], form=where[2], repeat_key=repeat_key,
                   old_value="removed", new_value="present",
                   detail=json.dumps({"kind": "row", "from": self.packet_ws, "removal": removal, "change": change},
                                     sort_keys=True))
        self.out.conflicts.append(f"{where[0]} / {where[1]} / {where[2]} ({repeat_key}): the row removed on "
                                  f"{removal['ws']} is kept (a value of it changed on {change['ws']})")

    def _instance_where(self) -> dict[int, tuple[str, str, str]]:
        return {i["id"]: (i["subject"], i["event_id"], i["form_id"]) for i in self.rows.get("instances", [])}

    # ----- values ------------------------------------------------------------------------------------------------
    def values(self) -> None:
        where = self._instance_where()
        ids = {v: k for k, v in where.items()}
        incoming = {(*where[v["instance_id"]], v["group_id"], v["row_no"], v["item_id"]): v
                    for v in self.rows.get("values", []) if v["instance_id"] in where}
        first: dict[tuple[str, str, str, str, int, str], dict[str, Any]] = {}
        # per item, the packet's last record that set it (a value record, or a decision this workstation did not
        # make too), and the records its decisions name as their sides (what the workstation that decided held)
        setting: dict[tuple[str, str, str, str, int, str], dict[str, Any]] = {}
        decided: dict[tuple[str, str, str, str, int, str], set[tuple[str, int]]] = {}
        found_here = self._conflicts_held()
        for c in self.copies:
            r = c["record"]
            key = _key(r)
            if key is None:
                continue
            if r["action"] in VALUE_ACTIONS:
                first.setdefault(key, c)
                setting[key] = c
            elif r["action"] == "merge_conflict" and _conflict_of(r) not in found_here:
                # not a conflict this workstation found too (crossed packets: that one decided nothing new)
                decided.setdefault(key, set()).update(_decision_sides(r))
                setting[key] = c
        keys = [*first, *(k for k in decided if k not in first)]
        held = _by(self.s, ItemValue, ItemValue.instance_id,
                   [ids[key[:3]] for key in keys if key[:3] in ids],
                   lambda v: (v.instance_id, v.group_id, v.row_no, v.item_id))
        self.new_values = []
        with self.s.no_autoflush:
            for key in keys:
                instance_id = ids.get(key[:3])
                if instance_id is None:
                    continue
                row = incoming.get(key)
                local = held.get((instance_id, key[3], key[4], key[5]))
                local_d = _value_dict(local)
                base = first[key]["record"]["old_value"] if key in first else None
                if _text(local_d) == _text(row) or (key in first and _text(local_d) == base):
                    self._set_value(local, instance_id, key, row)  # nothing changed here since the packet's base
                    continue
                mine, record = self._local_change(key, local_d)
                if key in decided and {(mine.ws, mine.id), (record.ws, record.id)} & decided[key]:
                    # a decision made elsewhere on what this workstation still holds (one of its sides): taken.
                    # A change made here since (not one of its sides) meets it below as any concurrent change does
                    self._set_value(local, instance_id, key, row)
                    continue
                self._conflict(key, instance_id, local, local_d, row, setting[key], (mine, record))
        self.s.flush()
        for chunk in _chunks(self.new_values):  # new values in batches (the ORM would send one INSERT each)
            self.s.execute(insert(ItemValue), chunk)

    def _conflicts_held(self) -> set[int]:
        """Which of the conflicts the packet's merge records name this workstation holds already (it found them
        itself: crossed packets; or received them)."""
        return _ids(self.s, ItemConflict, [n for n in (_conflict_of(c["record"]) for c in self.copies
                                                       if c["record"]["action"] == "merge_conflict") if n is not None])

    def _set_value(self, local: ItemValue | None, instance_id: int, key: Sequence[Any],
                   row: dict[str, Any] | None) -> None:
        if row is None:
            return
        data = {c: row[c] for c in R.VALUE if c not in ("instance_id", "group_id", "row_no", "item_id")}
        if local is None:
            self.new_values.append({"instance_id": instance_id, "group_id": key[3], "row_no": key[4],
                                    "item_id": key[5], **data, "updated_by": self.uid(self.authors.get(tuple(key)))})
            return
        for c, v in data.items():
            setattr(local, c, v)
        local.updated_by = self.uid(self.authors.get(tuple(key)))

    def _local_change(self, key: Sequence[Any], local_d: dict[str, Any] | None) -> tuple[Change, Change]:
        """The change that made this workstation's value (a decision: its kept side, with that record's time), and
        the record that set it here last (workstation and id as everywhere, its own time)."""
        rec = self.s.execute(select(AuditEvent).where(
            AuditEvent.subject == key[0], AuditEvent.visit == key[1], AuditEvent.form == key[2],
            AuditEvent.item == key[5], AuditEvent.repeat_key == f"{key[3]}:{key[4]}",
            AuditEvent.action.in_((*VALUE_ACTIONS, "merge_conflict"))).order_by(AuditEvent.id.desc()).limit(1)) \
            .scalar_one_or_none()
        if rec is None:
            none = Change(_text(local_d), None, self.ws.id, 0, "")
            return none, none
        origin = audit.parse_origin(rec.origin)
        ws, rid = (str(origin.get("ws")), int(origin.get("id") or 0)) if origin else (self.ws.id, rec.id)
        record = Change(_text(local_d), rec.username, ws, rid, rec.ts_utc)
        kept = side_change(_detail({"detail": rec.detail}).get("kept")) if rec.action == "merge_conflict" else None
        if kept is not None:
            return Change(_text(local_d), kept.user, kept.ws, kept.id, kept.utc), record
        return record, record

    def _conflict(self, key: tuple[str, str, str, str, int, str], instance_id: int,  # noqa: PLR0917
                  local: ItemValue | None,
                  local_d: dict[str, Any] | None, row: dict[str, Any] | None, last_copy: dict[str, Any],
                  here: tuple[Change, Change]) -> None:
        r = last_copy["record"]
        mine = here[0]
        theirs = Change(_text(row), r["username"], str(last_copy["ws"]), int(last_copy["id"]), r["ts_utc"])
        kept_side = side_change(_detail(r).get("kept")) if r["action"] == "merge_conflict" else None
        if kept_side is not None and kept_side.ws != mine.ws:
            # a decision made elsewhere: its side is the change it kept (that record's time, as on every workstation
            # that finds this conflict); one that kept a change of this workstation's stays its own record
            theirs = Change(_text(row), kept_side.user, kept_side.ws, kept_side.id, kept_side.utc)
        if mine.ws == theirs.ws:
            mine = here[1]  # this workstation's decision kept a change of theirs: the decision record is the side
        kept, other = sorted((mine, theirs), key=lambda ch: (ch.utc, ch.ws))
        kept_row, other_row = (local_d, row) if kept is mine else (row, local_d)
        if kept is theirs:
            self._set_value(local, instance_id, key, row)
        cid = pair_id(kept, other)
        opened = max(mine.utc, theirs.utc)
        repeat_key = f"{key[3]}:{key[4]}"
        if self.s.get(ItemConflict, cid) is None:
            self.s.add(ItemConflict(id=cid, instance_id=instance_id, group_id=key[3], row_no=key[4], item_id=key[5],
                                    kept=json.dumps(kept.as_dict(kept_row), sort_keys=True),
                                    other=json.dumps(other.as_dict(other_row), sort_keys=True),
                                    status="open", opened_utc=opened))
        self.audit(Action.MERGE_CONFLICT, subject=key[0], visit=key[1], form=key[2], item=key[5],
                   repeat_key=repeat_key, old_value=other.text, new_value=kept.text,
                   detail=json.dumps({"kind": "item", "conflict": cid, "canonical": (kept_row or {}).get("canonical"),
                                      "kept": kept.as_dict(None), "other": other.as_dict(None), "id": "pair"},
                                     sort_keys=True))
        text = (f"Conflict between workstations: {kept.ws} recorded {kept.text!r} ({kept.user}, {kept.utc}) and "
                f"{other.ws} recorded {other.text!r} ({other.user}, {other.utc}); {kept.text!r} was kept (recorded "
                "first). Enter the right value to resolve it.")
        if self.s.get(DataQuery, cid) is None:
            self.s.add(DataQuery(id=cid, instance_id=instance_id, group_id=key[3], row_no=key[4], item_id=key[5],
                                 status="open", automatic=True, opened_utc=opened))
            self.s.flush()
            self.s.add(QueryMessage(id=cid, query_id=cid, kind="auto", username=self.username, role=self.role,
                                    utc=opened, text=text))
            self.audit(Action.QUERY, subject=key[0], visit=key[1], form=key[2], item=key[5], repeat_key=repeat_key,
                       new_value="open", detail=f"query #{cid} auto: {text}"[:2000])
        if self.s.execute(select(Signature.id).where(Signature.instance_id == instance_id).limit(1)).first():
            self.audit(Action.SIGNATURE_INVALIDATED, subject=key[0], visit=key[1], form=key[2], item=key[5],
                       detail="conflict between workstations: the signed data is in question")
        self.out.conflicts.append(f"{key[0]} / {key[1]} / {key[2]} / {key[5]} ({repeat_key}): {kept.text!r} "
                                  f"({kept.ws}) kept, {other.text!r} ({other.ws}) kept beside it")

    # ----- append-only rows, queries, conflicts ----------------------------------------------------------------
    def append_only(self) -> None:
        subjects = self.subject_ids
        for name, table, cols in (("signatures", Signature, R.SIGNATURE),
                                  ("verifications", ItemVerification, R.VERIFICATION),
                                  ("infusion", InfusionEvent, R.INFUSION)):
            rows = self.rows.get(name, [])
            held = _ids(self.s, table, [r["id"] for r in rows])
            new = [{**{c: r[c] for c in cols}, **({"subject_id": subjects[r["subject"]]} if "subject" in r else {})}
                   for r in rows if r["id"] not in held and ("subject" not in r or r["subject"] in subjects)]
            for chunk in _chunks(new):
                self.s.execute(insert(table), chunk)
        self.s.flush()

    def _touched_queries(self, held: dict[int, DataQuery]) -> dict[int, list[dict[str, Any]]]:
        """The packet's records on each query, but another workstation's opening of the automatic query of a
        conflict this one found too (crossed packets): the same query, it changes nothing (``Replay._on_query``)."""
        found_here = _ids(self.s, ItemConflict, list(held))  # conflicts this workstation opened or received
        touched: dict[int, list[dict[str, Any]]] = {}
        for r in self.records:
            if r["action"] == "query" and str(r.get("detail") or "").startswith("query #"):
                qid, _, kind = str(r["detail"])[7:].partition(" ")
                try:
                    number = int(qid)
                except ValueError:
                    continue
                if not (number in held and number in found_here and kind.startswith("auto:")):
                    touched.setdefault(number, []).append(r)
        return touched

    def queries(self) -> None:
        in_packet = {m["id"] for m in self.rows.get("messages", [])}
        rows = self.rows.get("queries", [])
        held = _by(self.s, DataQuery, DataQuery.id, [r["id"] for r in rows], lambda q: q.id)
        touched = self._touched_queries(held)
        for row in rows:
            local = held.get(row["id"])
            if local is None:
                self.s.add(DataQuery(**{c: row[c] for c in R.QUERY}))
                continue
            if local.status == row["status"] or row["id"] not in touched:
                continue
            mine = [m for (m,) in self.s.execute(select(QueryMessage.id).where(QueryMessage.query_id == row["id"]))
                    if m not in in_packet]
            if not mine:
                local.status = row["status"]
                continue
            kept = min((local.status, row["status"]), key=lambda st: QUERY_RANK.get(st, 0))
            other = row["status"] if kept == local.status else local.status
            local.status = kept
            first = touched[row["id"]][0]
            self.audit(Action.MERGE_CONFLICT, subject=first.get("subject"), visit=first.get("visit"),
                       form=first.get("form"), item=first.get("item"), repeat_key=first.get("repeat_key"),
                       old_value=other, new_value=kept,
                       detail=json.dumps({"kind": "query", "query": row["id"], "from": self.packet_ws,
                                          "sides": self._query_sides(row["id"])}, sort_keys=True))
            self.out.conflicts.append(f"query #{row['id']}: {kept} kept (the other workstation had {other})")
        self.s.flush()
        messages = self.rows.get("messages", [])
        held_messages = _ids(self.s, QueryMessage, [r["id"] for r in messages])
        for row in messages:
            if row["id"] not in held_messages:
                self.s.add(QueryMessage(**{c: row[c] for c in R.MESSAGE}))
        conflicts = self.rows.get("conflicts", [])
        held_conflicts = _by(self.s, ItemConflict, ItemConflict.id, [r["id"] for r in conflicts], lambda c: c.id)
        for row in conflicts:
            local_c = held_conflicts.get(row["id"])
            if local_c is None:
                self.s.add(ItemConflict(**{c: row[c] for c in R.CONFLICT}))
            elif row["status"] == "resolved" and (local_c.status != "resolved"
                                                  or str(row["resolved_utc"] or "") > str(local_c.resolved_utc or "")):
                # resolved on both workstations (crossed packets): the later resolution, the same on both sides (what
                # was signed or verified before it stays void: ``voids``)
                local_c.status, local_c.resolved_utc = "resolved", row["resolved_utc"]
        self.s.flush()


def apply(session: Session, packet: Any, copies: Sequence[dict[str, Any]], ws: Workstation,  # noqa: PLR0917
          username: str,
          role: str, now: str) -> Outcome:
    """Apply the packet's rows inside the caller's transaction; the records to append (merge decisions, queries)."""
    job = _Apply(session, packet, copies, ws, username, role, now)
    subjects = job.subjects()
    job.definitions()
    job.instances(subjects)
    job.form_rows()
    job.values()
    job.append_only()
    job.queries()
    return job.out


# ----- what a conflict voids, and its resolution -------------------------------------------------------------------
def conflicts_of(session: Session, instance_id: int) -> list[ItemConflict]:
    return list(session.execute(select(ItemConflict).where(ItemConflict.instance_id == instance_id)
                                .order_by(ItemConflict.id)).scalars())


def voids(conflicts: Sequence[ItemConflict], when: str, key: tuple[str, int, str] | None = None) -> bool:
    """A signature (``key`` None: any item of the form) or SDV mark (``key``: that item) made at ``when`` is void
    while a conflict on it is open, and when it was made before the conflict was resolved."""
    for c in conflicts:
        if key is not None and (c.group_id, c.row_no, c.item_id) != key:
            continue
        if c.status == "open" or (c.resolved_utc or "") > when:
            return True
    return False


def resolve_on_entry(session: Session, instance_id: int, key: tuple[str, int, str], now: str) -> list[int]:
    """A value entered on an item in conflict resolves it (the caller audits ``conflict_resolved``)."""
    out = []
    for c in session.execute(select(ItemConflict).where(
            ItemConflict.instance_id == instance_id, ItemConflict.group_id == key[0], ItemConflict.row_no == key[1],
            ItemConflict.item_id == key[2], ItemConflict.status == "open")).scalars():
        c.status, c.resolved_utc = "resolved", now
        out.append(c.id)
    return out
