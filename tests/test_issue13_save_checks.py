"""Issue 13: a save asks the database only what it must. The open conflicts of a form (issue 18) are read with the
form and kept with it between saves; a packet applied in the same process (which opens conflicts) drops the kept
form, so the next save still refuses without a reason and resolves with one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from msc_sle_crf.errors import ValidationError
from msc_sle_crf.store.tables import AuditEvent, ItemConflict
from msc_sle_crf.sync.service import Packets

from .test_issue18_packets import CREAT, PROTU, R1, Pair, edit_offline, pair  # noqa: F401  (pair: the fixture)


def _conflicts(ws) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with ws.ctx.read() as s:
        return [(c.item_id, c.status) for c in s.execute(select(ItemConflict)).scalars()]


@pytest.mark.parametrize("entered", ["91", "90"])  # a new value, or the value kept confirmed
def test_a_conflict_opened_in_this_process_is_seen_by_the_kept_form(pair: Pair, entered: str) -> None:  # noqa: F811
    edit_offline(pair)
    path = pair.export("B")
    assert path is not None
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(5)
        assert ws.entry.save_item(R1, PROTU, "0.6", reason="re-read").saved  # the form is kept after this save
        assert ws.entry.save_item(R1, PROTU, "0.7", reason="re-read").saved  # ... and used by this one
        assert Packets(ws.ctx, ws.study).import_file(path).result.conflicts == 1  # same process, same store
        assert _conflicts(ws) == [("CREAT", "open")]
        with pytest.raises(ValidationError):  # resolving needs a reason: a stale kept form would not know
            ws.entry.save_item(R1, CREAT, entered)
        assert _conflicts(ws) == [("CREAT", "open")]  # the refused save changed nothing
        pair.clock.advance(5)
        assert ws.entry.save_item(R1, CREAT, entered, reason="lab report checked").saved
        assert _conflicts(ws) == [("CREAT", "resolved")]
        with ws.ctx.read() as s:
            actions = [a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.item == "CREAT"))]
        assert actions[-1] == "conflict_resolved"
        assert ws.entry.save_item(R1, CREAT, "93", reason="again").saved  # resolved: no longer asks
        assert _conflicts(ws) == [("CREAT", "resolved")]


def test_the_workstation_identity_kept_between_writes_follows_a_settings_write(site, admin) -> None:  # type: ignore[no-untyped-def]
    """The identity (read at every form started) is kept between write transactions; a transaction that writes site
    settings drops it, whether it commits (a forked copy opened: the next form start of another workstation's
    subject is refused) or not (the identity stays)."""
    from msc_sle_crf.errors import PermissionDenied
    from msc_sle_crf.services import Workspace
    from msc_sle_crf.services.entry import FormRef
    from msc_sle_crf.store.tables import SiteSetting
    from msc_sle_crf.sync.ids import workstation_of

    from .conftest import make_user
    from .forms_helpers import STUDY

    doctor = Workspace.sign_in(site, "dr.w", make_user(admin, "dr.w", "investigator"), study=STUDY)
    number = doctor.subjects.register("ABC", 1980, "F").subject.subject_number
    assert doctor.entry.save_item(FormRef(number, "M0", "labs"), ("lb", 0, "HGB"), "12.1").saved  # WS-01, kept
    identity = {"workstation_id": "WS-02", "workstation_number": "2", "subject_range": "201-399"}

    def write_identity() -> None:
        with doctor.ctx.write(data=False) as tx:
            for key, value in identity.items():
                tx.session.add(SiteSetting(key=key, value=value, updated_utc=doctor.ctx.now()))
            tx.session.flush()
            assert workstation_of(tx.session).id == "WS-02"  # the transaction sees its own write
            raise RuntimeError("stopped before the commit")

    with pytest.raises(RuntimeError):
        write_identity()
    with doctor.ctx.read() as s:
        assert s.get(SiteSetting, "workstation_id") is None
    assert doctor.entry.save_item(FormRef(number, "M1", "labs"), ("lb", 0, "HGB"), "12.1").saved  # still WS-01
    with doctor.ctx.write(data=False) as tx:  # as opening a forked copy does
        for key, value in identity.items():
            tx.session.add(SiteSetting(key=key, value=value, updated_utc=doctor.ctx.now()))
    with pytest.raises(PermissionDenied):  # now WS-02: a form of WS-01's subject is not started here
        doctor.entry.save_item(FormRef(number, "M3", "labs"), ("lb", 0, "HGB"), "12.1")


def test_a_driver_error_inside_a_save_is_one_clear_line_and_stores_nothing(site, admin) -> None:  # type: ignore[no-untyped-def]
    """The save's statements run on the driver's own connection: its errors are translated like SQLAlchemy's were
    (one line, in the user's language), and the transaction is undone (no value, no audit record)."""
    from msc_sle_crf.errors import StoreError
    from msc_sle_crf.services import Workspace
    from msc_sle_crf.services.entry import FormRef

    from .conftest import make_user
    from .forms_helpers import STUDY
    from .helpers.sql import run_sql

    doctor = Workspace.sign_in(site, "dr.e", make_user(admin, "dr.e", "investigator"), study=STUDY)
    ref = FormRef(doctor.subjects.register("ABC", 1980, "F").subject.subject_number, "M0", "labs")
    assert doctor.entry.save_item(ref, ("lb", 0, "HGB"), "12.1").saved
    run_sql(site.store, "CREATE TRIGGER refuse_value BEFORE UPDATE ON item_value "
                        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    records = len(run_sql(site.store, "SELECT id FROM audit_event"))
    with pytest.raises(StoreError) as err:
        doctor.entry.save_item(ref, ("lb", 0, "HGB"), "12.3")
    assert "refused by the test" in err.value.message() and "\n" not in err.value.message()
    assert run_sql(site.store, "SELECT value FROM item_value WHERE item_id = 'HGB'") == [("12.1",)]
    assert len(run_sql(site.store, "SELECT id FROM audit_event")) == records
