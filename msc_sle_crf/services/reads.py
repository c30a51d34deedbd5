"""Reads the services share, written once: a subject by number, a form instance, the rows removed from a form,
the definition a form was entered under (by its content hash), a stored value.

Each takes the caller's session, so it runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.formdef.definitions import FormDef, StudyDef
from msc_sle_crf.formdef.stored import parse_definition
from msc_sle_crf.i18n import L
from msc_sle_crf.store.tables import FormDefinitionSnapshot, FormInstance, FormRow, ItemValue, Subject

CellKey = tuple[str, int, str]

# Definitions are immutable for a given content hash: parsed once per process.
_DEFINITIONS: dict[str, FormDef] = {}


def subject(session: Session, number: str) -> Subject:
    """The subject with this number, or a clear error naming it."""
    row = session.execute(select(Subject).where(Subject.subject_number == number)).scalar_one_or_none()
    if row is None:
        raise ValidationError(Msg.SUBJECT_UNKNOWN, subject=number)
    return row


def writable_subject(session: Session, number: str) -> Subject:
    """The subject, for a change: a subject locked as a whole (end of study) refuses every change until it is
    unlocked as a whole (with a reason)."""
    row = subject(session, number)
    if row.status == "locked":
        raise ValidationError(Msg.SUBJECT_LOCKED, subject=number)
    return row


def instance(session: Session, subject_id: int, event: str, form: str) -> FormInstance | None:
    """A subject's form instance at a visit, if it was started."""
    return session.execute(select(FormInstance).where(
        FormInstance.subject_id == subject_id, FormInstance.event_id == event,
        FormInstance.form_id == form)).scalar_one_or_none()


def instances(session: Session, subject_id: int) -> list[FormInstance]:
    return list(session.execute(select(FormInstance).where(FormInstance.subject_id == subject_id)).scalars())


def removed_rows(session: Session, instance_ids: Iterable[int]) -> set[tuple[int, str, int]]:
    """(instance, group, row) of every removed row: their values stay stored but count for nothing."""
    ids = list(instance_ids)
    if not ids:
        return set()
    return {(r.instance_id, r.group_id, r.row_no) for r in session.execute(
        select(FormRow).where(FormRow.instance_id.in_(ids), FormRow.removed.is_(True))).scalars()}


def live_rows(session: Session, instance_id: int) -> list[FormRow]:
    return list(session.execute(select(FormRow).where(FormRow.instance_id == instance_id,
                                                      FormRow.removed.is_(False))).scalars())


def definition(session: Session, form_hash: str, current: FormDef | None = None) -> FormDef:
    """The definition a form instance was entered under: the current one when the hash matches, else the
    snapshot stored with the data."""
    if current is not None and current.content_hash() == form_hash:
        return current
    found = _DEFINITIONS.get(form_hash)
    if found is None:
        snap = session.get(FormDefinitionSnapshot, form_hash)
        found = parse_definition(form_hash, snap.definition_json if snap is not None else None,
                                 snap.form_id if snap is not None else None)
        _DEFINITIONS[form_hash] = found
    return found


def definition_by_hash(conn: Connection, form_hash: str, current: FormDef | None = None) -> FormDef:
    """``definition`` through a plain connection (the write path reads no ORM objects)."""
    if current is not None and current.content_hash() == form_hash:
        return current
    found = _DEFINITIONS.get(form_hash)
    if found is None:
        row = conn.exec_driver_sql("SELECT definition_json, form_id FROM form_definition WHERE content_hash = ?",
                                   (form_hash,)).first()
        found = parse_definition(form_hash, row[0] if row is not None else None, row[1] if row is not None else None)
        _DEFINITIONS[form_hash] = found
    return found



def remember_definition(form: FormDef) -> None:
    """A current definition is known by its hash without reading its snapshot back."""
    _DEFINITIONS.setdefault(form.content_hash(), form)


def item_value(session: Session, instance_id: int, key: CellKey) -> ItemValue | None:
    return session.execute(select(ItemValue).where(
        ItemValue.instance_id == instance_id, ItemValue.group_id == key[0], ItemValue.row_no == key[1],
        ItemValue.item_id == key[2])).scalar_one_or_none()


def item_values(session: Session, instance_id: int) -> list[ItemValue]:
    return list(session.execute(select(ItemValue).where(ItemValue.instance_id == instance_id)).scalars())


def coded_value_names(study: StudyDef, form_id: str) -> dict[str, dict[str, L]]:
    """Codes the program itself writes into a form's text fields, by their names (shown instead of, or beside, the
    code): the vital signs' planned time points ("END": "End of the infusion")."""
    bindings = study.meta.bindings
    if bindings is None or form_id != bindings.infusion_day.vital_signs.form:
        return {}
    return {bindings.infusion_day.vital_signs.timepoint: {p.id: L(p.label_en, p.label_fr)
                                                          for p in study.meta.infusion.vital_signs}}
