"""What a packet carries besides its records (docs/workstations.md "Packets"): the current rows, by natural key,
of the subjects its records touched (``rows.json``), and the same records as archival ODM 1.3.2
(``archival.xml``, the "Data out" writer). No Qt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf import __version__
from msc_sle_crf.export import odm
from msc_sle_crf.export.source import UserRow
from msc_sle_crf.store.tables import (
    AppUser,
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

# The columns each table's rows carry (user ids travel as user names: accounts are matched by name).
SUBJECT = ("subject_number", "initials", "birth_year", "sex", "status", "created_utc", "owner_ws")
DEFINITION = ("content_hash", "form_id", "version", "definition_json", "first_used_utc")
INSTANCE = ("id", "event_id", "form_id", "form_version", "form_hash", "status", "created_utc", "updated_utc",
            "completed_utc")
ROW = ("instance_id", "group_id", "row_no", "removed", "created_utc")
VALUE = ("instance_id", "group_id", "row_no", "item_id", "value", "unit", "canonical", "missing_code",
         "missing_reason", "confirmed", "updated_utc")
SIGNATURE = ("id", "instance_id", "user_id", "username", "printed_name", "role", "meaning", "signed_utc",
             "utc_offset_min", "content_hash", "sig")
VERIFICATION = ("id", "instance_id", "group_id", "row_no", "item_id", "username", "utc", "value_hash")
QUERY = ("id", "instance_id", "group_id", "row_no", "item_id", "status", "automatic", "opened_utc")
MESSAGE = ("id", "query_id", "kind", "username", "role", "utc", "text")
INFUSION = ("id", "kind", "wall_utc", "mono", "boot", "username", "reason", "detail", "refers_to")
CONFLICT = ("id", "instance_id", "group_id", "row_no", "item_id", "kept", "other", "status", "opened_utc",
            "resolved_utc")


def _pick(obj: Any, cols: Sequence[str]) -> dict[str, Any]:
    return {c: getattr(obj, c) for c in cols}


def dump(session: Session, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every row of the subjects the records name (the current state; the records say how it came to be)."""
    numbers = sorted({str(r["subject"]) for r in records if r.get("subject")})
    users = {u.id: u.username for u in session.execute(select(AppUser)).scalars()}
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ("subjects", "definitions", "instances", "rows", "values",
                                                            "signatures", "verifications", "queries", "messages",
                                                            "infusion", "conflicts")}
    if not numbers:
        return out
    subjects = session.execute(select(Subject).where(Subject.subject_number.in_(numbers))).scalars().all()
    by_id = {s.id: s.subject_number for s in subjects}
    for s in subjects:
        out["subjects"].append({**_pick(s, SUBJECT), "created_by": users.get(s.created_by)})
    instances = session.execute(select(FormInstance).where(FormInstance.subject_id.in_(list(by_id)))
                                .order_by(FormInstance.id)).scalars().all()
    ids = [i.id for i in instances]
    hashes = sorted({i.form_hash for i in instances})
    for d in session.execute(select(FormDefinitionSnapshot).where(FormDefinitionSnapshot.content_hash.in_(hashes))
                             .order_by(FormDefinitionSnapshot.content_hash)).scalars():
        out["definitions"].append(_pick(d, DEFINITION))
    for i in instances:
        out["instances"].append({**_pick(i, INSTANCE), "subject": by_id[i.subject_id],
                                 "created_by": users.get(i.created_by), "completed_by": users.get(i.completed_by or 0)})

    def rows_of(table: Any, cols: Sequence[str], key: str, extra: Any = None) -> None:
        for obj in session.execute(select(table).where(table.instance_id.in_(ids)).order_by(
                *(getattr(table, c) for c in ("instance_id", "group_id", "row_no", "item_id", "id")
                  if hasattr(table, c)))).scalars():
            out[key].append({**_pick(obj, cols), **(extra(obj) if extra else {})})

    rows_of(FormRow, ROW, "rows")
    rows_of(ItemValue, VALUE, "values", lambda v: {"updated_by": users.get(v.updated_by)})
    rows_of(Signature, SIGNATURE, "signatures")
    rows_of(ItemVerification, VERIFICATION, "verifications")
    rows_of(DataQuery, QUERY, "queries")
    rows_of(ItemConflict, CONFLICT, "conflicts")
    qids = [q["id"] for q in out["queries"]]
    for msg in session.execute(select(QueryMessage).where(QueryMessage.query_id.in_(qids))
                               .order_by(QueryMessage.id)).scalars():
        out["messages"].append(_pick(msg, MESSAGE))
    for ev in session.execute(select(InfusionEvent).where(InfusionEvent.subject_id.in_(list(by_id)))
                              .order_by(InfusionEvent.id)).scalars():
        out["infusion"].append({**_pick(ev, INFUSION), "subject": by_id[ev.subject_id]})
    return out


def archival_xml(session: Session, study: Any, records: Sequence[dict[str, Any]], *, file_oid: str,
                 prior: str | None, created: str) -> bytes:
    """The records as an archival ODM 1.3.2 file (each a transaction with its AuditRecord), as "Data out" does."""
    users = [UserRow(u.username, u.full_name, u.role, bool(u.active))
             for u in session.execute(select(AppUser).order_by(AppUser.id)).scalars()]
    workstations = sorted({str(r["workstation"]) for r in records if r.get("workstation")})
    attrs = odm.odm_root_attrs(file_oid, created, "Transactional", __version__, archival=True)
    if prior:
        attrs["PriorFileOID"] = prior
    root = etree.Element(f"{{{odm.NS}}}ODM", attrs, nsmap={None: odm.NS})
    opening = etree.tostring(root).decode("utf-8").replace("/>", ">")
    clinical = odm.E("ClinicalData", {"StudyOID": odm.study_oid(study), "MetaDataVersionOID": odm.mdv_oid(study)})
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', opening]
    for el in (odm.study_element(study), odm.admin_data(study, users, workstations, deidentified=False)):
        parts.append(odm._without_ns(etree.tostring(el, encoding="UTF-8")).decode("utf-8"))
    parts.append(odm._without_ns(etree.tostring(clinical, encoding="UTF-8")).decode("utf-8").replace("/>", ">"))
    body: list[str] = []
    unit_oids = odm.units(study)
    for r in records:
        if r.get("subject"):
            rec = tuple(r[f] for f in ("id", "ts_utc", "utc_offset_min", "username", "role", "workstation", "action",
                                       "subject", "visit", "form", "item", "repeat_key", "old_value", "new_value",
                                       "reason", "detail", "prev_hash", "hash", "signer"))
            odm.transaction(body, rec, study.forms, deidentified=False, unit_oids=unit_oids)
    parts.extend(body)
    parts.append("</ClinicalData></ODM>\n")
    return "".join(parts).encode("utf-8")
