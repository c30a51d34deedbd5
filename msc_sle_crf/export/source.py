"""What an export reads, as plain rows from one DB-API connection inside one read transaction (so the data, the
trail and the trail head all describe the same moment). The audit trail is streamed in batches: a 1M-record trail
is never held in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from msc_sle_crf.formdef.definitions import FormDef, StudyDef
from msc_sle_crf.formdef.stored import parse_definition

BATCH = 5000
AUDIT_COLUMNS = ("id", "ts_utc", "utc_offset_min", "username", "role", "workstation", "action", "subject", "visit",
                 "form", "item", "repeat_key", "old_value", "new_value", "reason", "detail", "prev_hash", "hash",
                 "signer")


@dataclass(frozen=True)
class SubjectRow:
    id: int
    number: str
    initials: str
    birth_year: int
    sex: str
    status: str


@dataclass(frozen=True)
class InstanceRow:
    id: int
    subject_id: int
    event: str
    form: str
    version: str
    form_hash: str
    status: str


@dataclass(frozen=True)
class ValueRow:
    subject_id: int
    instance_id: int
    group: str
    row_no: int
    item: str
    value: str | None
    unit: str | None
    canonical: str | None
    missing_code: str | None
    missing_reason: str | None

    @property
    def analysis_value(self) -> str | None:
        """The value in the item's canonical unit (what the datasets and the snapshot carry)."""
        return self.canonical if self.unit and self.canonical is not None else self.value


@dataclass(frozen=True)
class SignatureRow:
    instance_id: int
    username: str
    printed_name: str
    role: str
    meaning: str
    signed_utc: str
    utc_offset_min: int
    content_hash: str
    workstation: str | None = None  # where it was signed (its sign audit record's workstation), None if not found


@dataclass(frozen=True)
class UserRow:
    username: str
    full_name: str
    role: str
    active: bool


class Source:
    """The database as an export reads it. ``begin()`` opens the read transaction every later read shares."""

    def __init__(self, conn: Any, study: StudyDef, subjects: tuple[str, ...] | None = None) -> None:
        self.conn = conn
        self.study = study
        self.only = frozenset(subjects) if subjects else None
        self._definitions: dict[str, FormDef] = {}

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def end(self) -> None:
        self.conn.execute("ROLLBACK")

    def head(self) -> tuple[int, str, str]:
        row = self.conn.execute("SELECT id, hash, ts_utc FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1]), str(row[2])) if row else (0, "0" * 64, "")

    def subjects(self) -> list[SubjectRow]:
        rows = [SubjectRow(*r) for r in self.conn.execute(
            "SELECT id, subject_number, initials, birth_year, sex, status FROM subject ORDER BY id")]
        return [r for r in rows if self.only is None or r.number in self.only]

    def instances(self) -> list[InstanceRow]:
        return [InstanceRow(*r) for r in self.conn.execute(
            "SELECT id, subject_id, event_id, form_id, form_version, form_hash, status FROM form_instance "
            "ORDER BY subject_id, id")]

    def removed_rows(self) -> set[tuple[int, str, int]]:
        return {(int(r[0]), str(r[1]), int(r[2])) for r in self.conn.execute(
            "SELECT instance_id, group_id, row_no FROM form_row WHERE removed")}  # a boolean on the hub

    def values(self) -> Iterator[ValueRow]:
        """Every stored value, by subject, form instance and row: one subject's values per query (no sort of the
        whole table, so memory does not grow with the trial)."""
        ids = [int(r[0]) for r in self.conn.execute("SELECT id FROM subject ORDER BY id")]
        for subject_id in ids:
            for r in self.conn.execute(
                    "SELECT i.subject_id, v.instance_id, v.group_id, v.row_no, v.item_id, v.value, v.unit, "
                    "v.canonical, v.missing_code, v.missing_reason FROM form_instance i "
                    "JOIN item_value v ON v.instance_id = i.id WHERE i.subject_id = ? "
                    "ORDER BY v.instance_id, v.group_id, v.row_no, v.id", (subject_id,)).fetchall():
                yield ValueRow(*r)

    def signatures(self) -> list[SignatureRow]:
        """Every signature row with the workstation it was made on: the one of its sign audit record (same
        subject, visit, form and content hash, "sha256: <hash>" in its detail), the n-th row with the n-th record
        when the same content was signed more than once. The records are looked up per signed form (the trail's
        subject/form index), not by a scan of the whole trail."""
        rows = self.conn.execute(
            "SELECT g.instance_id, g.username, g.printed_name, g.role, g.meaning, g.signed_utc, g.utc_offset_min, "
            "g.content_hash, s.subject_number, i.event_id, i.form_id FROM signature g "
            "JOIN form_instance i ON i.id = g.instance_id JOIN subject s ON s.id = i.subject_id "
            "ORDER BY g.id").fetchall()
        places: dict[tuple[str, str, str], dict[str, list[str]]] = {}
        out = []
        for r in rows:
            where = (str(r[8]), str(r[9]), str(r[10]))
            found = places.get(where)
            if found is None:
                found = places[where] = {}
                for detail, workstation in self.conn.execute(
                        "SELECT detail, workstation FROM audit_event WHERE subject = ? AND form = ? AND visit = ? "
                        "AND action = 'sign' ORDER BY id", (where[0], where[2], where[1])).fetchall():
                    digest = str(detail or "").rpartition("sha256: ")[2].split(";")[0].strip()
                    found.setdefault(digest, []).append(str(workstation))
            made_on = found.get(str(r[7]))
            out.append(SignatureRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]),
                                    str(r[7]), made_on.pop(0) if made_on else None))
        return out

    def users(self) -> list[UserRow]:
        return [UserRow(str(r[0]), str(r[1]), str(r[2]), bool(r[3])) for r in self.conn.execute(
            "SELECT username, full_name, role, active FROM app_user ORDER BY id")]

    def workstations(self) -> list[str]:
        return [str(r[0]) for r in self.conn.execute("SELECT DISTINCT workstation FROM audit_event ORDER BY 1")]

    def audit_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM audit_event").fetchone()[0])

    def audit(self) -> Iterator[tuple[Any, ...]]:
        """Every audit record in order (the columns of ``AUDIT_COLUMNS``), streamed in batches."""
        cur = self.conn.execute("SELECT " + ", ".join(AUDIT_COLUMNS) + " FROM audit_event ORDER BY id")  # noqa: S608
        while True:
            batch = cur.fetchmany(BATCH)
            if not batch:
                return
            yield from batch

    def definition(self, form_hash: str, form_id: str) -> FormDef | None:
        """The definition a form instance was entered under (the current one when its hash matches)."""
        current = self.study.forms.get(form_id)
        if current is not None and current.content_hash() == form_hash:
            return current
        found = self._definitions.get(form_hash)
        if found is None:
            row = self.conn.execute("SELECT definition_json FROM form_definition WHERE content_hash = ?",
                                    (form_hash,)).fetchone()
            if row is None:
                return current
            found = parse_definition(form_hash, row[0], form_id)
            self._definitions[form_hash] = found
        return found
