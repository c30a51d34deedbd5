"""Issue 13, item 3: a value save's transaction made lean (its connection kept between writes, no ORM session unless
a service asks for one) stays one transaction: the value, the form's time, the typing buffer and the signed audit
record commit together or not at all, an ORM session made midway joins it, and a failed write leaves the store
usable. And a save writes no more pages than these need."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from msc_sle_crf import audit
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import StoreError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.services.subjects import Subjects
from msc_sle_crf.store import db
from msc_sle_crf.store.tables import AuditEvent, FormRow, ItemValue

from .conftest import make_user
from .forms_helpers import STUDY

HGB = ("lb", 0, "HGB")


@pytest.fixture
def doctor(site: Site, admin: Workspace) -> DataEntry:
    return Workspace.sign_in(site, "dr.a", make_user(admin, "dr.a", "investigator"), study=STUDY).entry


@pytest.fixture
def labs(doctor: DataEntry) -> FormRef:
    return FormRef(Subjects(doctor.ctx).register("ABC", 1980, "F").subject.subject_number, "M0", "labs")


def stored(entry: DataEntry, item: str) -> str | None:
    with entry.ctx.store.read() as session:
        return session.execute(select(ItemValue.value).where(ItemValue.item_id == item)).scalar_one_or_none()


def records(entry: DataEntry) -> int:
    with entry.ctx.store.read() as session:
        return int(session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


def test_a_value_save_makes_no_orm_session(doctor: DataEntry, labs: FormRef,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    doctor.save_item(labs, HGB, "12.1")  # the form started (its instance: a session for the id range)
    made: list[object] = []
    factory = db.Writing.session.fget
    assert factory is not None
    monkeypatch.setattr(db.Writing, "session", property(lambda w: made.append(w) or factory(w)))
    doctor.save_typing(labs, HGB, "12,")
    assert doctor.save_item(labs, HGB, "12.3").saved
    assert made == []
    assert stored(doctor, "HGB") == "12.3" and HGB not in doctor.typed_buffer(labs)


def test_a_failure_after_the_value_is_written_undoes_the_whole_save(doctor: DataEntry, labs: FormRef,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    doctor.save_item(labs, HGB, "12.1")
    doctor.save_typing(labs, HGB, "12,")
    before = records(doctor)
    signer = doctor.ctx.site.signer("dr.a")

    def broken(_self: object, _message: bytes) -> bytes:
        raise RuntimeError("the signature failed")

    monkeypatch.setattr(type(signer), "sign", broken)  # the audit record is signed after the value's statement ran
    with pytest.raises(RuntimeError):
        doctor.save_item(labs, HGB, "12.7")
    monkeypatch.undo()
    assert stored(doctor, "HGB") == "12.1"  # the value, the form's time, the typing buffer: all rolled back
    assert records(doctor) == before
    assert doctor.typed_buffer(labs)[HGB] == ("12,", None)
    result = doctor.save_item(labs, HGB, "12.7")  # the kept connection is usable, the dropped form read again
    assert result.saved and stored(doctor, "HGB") == "12.7"
    with doctor.ctx.store.read() as session:
        last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
        assert (last.old_value, last.new_value, last.id) == ("12.1", "12.7", before + 1)
    conn = doctor.ctx.store.raw_connection()
    try:
        assert audit.verify_connection(conn).ok
    finally:
        conn.close()


def test_a_session_made_midway_joins_the_transaction(site: Site, admin: Workspace) -> None:
    """A repeating row (ORM) added after the form's instance (raw SQL) in one transaction: both commit with the
    audit records, or neither does."""
    nurse = Workspace.sign_in(site, "nurse.a", make_user(admin, "nurse.a", "nurse"), study=STUDY).entry
    number = Workspace.sign_in(site, "dr.c", make_user(admin, "dr.c", "investigator")).subjects.register(
        "ABC", 1980, "F").subject.subject_number
    vitals = FormRef(number, "D0", "vital_signs")
    nurse.save_values(vitals, {("vs", 1, "VSHR"): "72"})
    with nurse.ctx.store.read() as session:
        assert session.execute(select(FormRow.row_no).where(FormRow.group_id == "vs")).scalars().all() == [1]
        actions = session.execute(select(AuditEvent.action).where(AuditEvent.subject == number)
                                  .order_by(AuditEvent.id)).scalars().all()
    assert actions[-3:] == [Action.CREATE.value, Action.ROW_ADD.value, Action.DATA_ENTRY.value]
    assert stored(nurse, "VSHR") == "72"
    before = records(nurse)
    with nurse.ctx.store.read() as session:
        instance = session.execute(select(FormRow.instance_id).where(FormRow.group_id == "vs")).scalar_one()
    with pytest.raises(RuntimeError), nurse.ctx.write() as tx:
        tx.connection.exec_driver_sql("UPDATE item_value SET value = '99' WHERE item_id = 'VSHR'")
        tx.session.add(FormRow(instance_id=instance, group_id="vs", row_no=2, removed=False, created_utc="x"))
        tx.session.flush()  # the row reaches the database inside the transaction
        tx.audit(Action.ROW_ADD, subject=number, visit="D0", form="vital_signs", repeat_key="vs:2")
        raise RuntimeError("stopped")
    assert stored(nurse, "VSHR") == "72" and records(nurse) == before
    with nurse.ctx.store.read() as session:
        assert session.execute(select(FormRow.row_no).where(FormRow.group_id == "vs")).scalars().all() == [1]


def test_a_database_error_inside_a_write_is_one_clear_error_and_the_next_write_works(doctor: DataEntry,
                                                                                   labs: FormRef) -> None:
    doctor.save_item(labs, HGB, "12.1")
    with pytest.raises(StoreError), doctor.ctx.write() as tx:
        tx.connection.exec_driver_sql("UPDATE no_such_table SET x = 1")
    assert doctor.save_item(labs, HGB, "12.2").saved and stored(doctor, "HGB") == "12.2"


def _wal_frames(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return max(0, (wal.stat().st_size - 32) // (24 + db.PAGE_SIZE)) if wal.exists() else 0


def test_a_value_save_writes_at_most_six_pages(site: Site, doctor: DataEntry, labs: FormRef) -> None:
    """The value and its index entry, the form's time, the audit record and its index entry, the trail's id
    high-water mark: nothing else (no typing-buffer row, no second transaction)."""
    store = site.store
    assert store is not None
    doctor.save_item(labs, HGB, "12.1")
    doctor.save_item(labs, HGB, "12.2")
    store.checkpoint()  # the log starts again: what follows counts one save's frames
    grown = []
    for value in ("12.3", "12.4", "12.5"):
        start = _wal_frames(store.path)
        assert doctor.save_item(labs, HGB, value).saved
        grown.append(_wal_frames(store.path) - start)
    assert 4 <= min(grown) <= 6, grown


def test_set_now_keeps_everything_but_the_time() -> None:
    """A kept form brought to the present keeps its subject's context (FormState.set_now builds it field by field)."""
    import dataclasses
    import datetime as dt

    from msc_sle_crf.formdef.engine import FormContext, FormState

    context = FormContext(now=dt.datetime(2026, 11, 25, 9, 0), birth_year=1980,
                          window=(dt.date(2026, 11, 20), dt.date(2026, 11, 30)), day0=dt.date(2026, 11, 1))
    state = FormState(STUDY.forms["labs"], context)
    later = dt.datetime(2026, 11, 25, 9, 5)
    state.set_now(later)
    assert state.context == dataclasses.replace(context, now=later)
    assert [f.name for f in dataclasses.fields(FormContext)] == ["now", "birth_year", "window", "day0"]
