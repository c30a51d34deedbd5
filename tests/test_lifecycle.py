"""Form lifecycle and electronic signatures: verify, sign (user name and password again, a meaning), invalidation
when signed data change, lock and unlock with a reason; every refusal clear and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from msc_sle_crf.errors import AuthenticationError, PermissionDenied, ValidationError
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import (
    FormIncomplete,
    FormRef,
)
from msc_sle_crf.services.lifecycle import Lifecycle
from msc_sle_crf.services.subjects import Subjects
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import AuditEvent

from .conftest import make_user

REF = FormRef("01-001", "SCR", "renal_function")


@pytest.fixture
def people(site: Site, admin: Workspace) -> dict[str, Lifecycle]:
    out = {}
    for name, role in (("dr.sign", "investigator"), ("nurse.sign", "nurse"), ("monitor.sign", "monitor")):
        out[role] = Workspace.sign_in(site, name, make_user(admin, name, role)).lifecycle
    Subjects(out["investigator"].ctx).register("ABC", 1980, "F")
    return out


def complete_form(doctor: Lifecycle) -> None:
    doctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(REF)


def actions(lc: Lifecycle) -> list[str]:
    with lc.ctx.store.read() as session:
        return [a for (a,) in session.execute(select(AuditEvent.action).order_by(AuditEvent.id))]


def test_verify_sign_lock_unlock(people: dict[str, Lifecycle]) -> None:
    doctor, monitor = people["investigator"], people["monitor"]
    complete_form(doctor)
    with pytest.raises(PermissionDenied):
        doctor.source_verify(REF)
    monitor.source_verify(REF)
    assert doctor.entry.open_form(REF).status == FormStatus.VERIFIED
    signature = doctor.sign(REF, "dr.sign", "pw-ngis.rd-2026", "approval")
    assert signature.valid and signature.printed_name == "Dr.Sign" and signature.role == "investigator"
    assert len(signature.content_hash) == 64
    assert "Dr.Sign (Investigator), 25/11/2026 10:00:00 UTC+01:00, Approval" in signature.manifestation()
    assert doctor.entry.open_form(REF).status == FormStatus.SIGNED
    monitor.lock(REF)
    with pytest.raises(ValidationError, match="locked"):
        doctor.entry.save_item(REF, ("lb", 0, "CREAT"), "90", reason="typo")
    with pytest.raises(PermissionDenied):  # the monitor locks but does not unlock (study.yaml unlock_roles)
        monitor.unlock(REF, "correction requested by the investigator")
    with pytest.raises(ValidationError):
        doctor.unlock(REF, "  ")
    doctor.unlock(REF, "correction requested by the investigator")
    assert doctor.entry.open_form(REF).status == FormStatus.SIGNED
    with doctor.ctx.store.read() as session:
        changes = [(e.detail, e.reason) for e in session.execute(
            select(AuditEvent).where(AuditEvent.action == "status_change").order_by(AuditEvent.id)).scalars()]
    assert changes[-2:] == [("locked", None), ("unlocked", "correction requested by the investigator")]


def test_editing_signed_data_invalidates_the_signature_and_audits_it(people: dict[str, Lifecycle]) -> None:
    doctor = people["investigator"]
    complete_form(doctor)
    doctor.sign(REF, "dr.sign", "pw-ngis.rd-2026", "approval")
    doctor.entry.save_item(REF, ("lb", 0, "CREAT"), "90", reason="transcription error")
    assert doctor.entry.open_form(REF).status == FormStatus.COMPLETE  # needs signing again
    [signature] = doctor.signatures(REF)
    assert not signature.valid
    assert "INVALID: the data changed after signing" in signature.manifestation()
    assert "signature_invalidated" in actions(doctor)
    second = doctor.sign(REF, "dr.sign", "pw-ngis.rd-2026", "approval")
    assert second.valid and [s.valid for s in doctor.signatures(REF)] == [False, True]


def test_wrong_password_or_another_name_signs_nothing_and_is_audited(people: dict[str, Lifecycle]) -> None:
    doctor = people["investigator"]
    complete_form(doctor)
    with pytest.raises(AuthenticationError):
        doctor.sign(REF, "dr.sign", "wrong-password-1", "approval")
    with pytest.raises(AuthenticationError, match="your own user name"):
        doctor.sign(REF, "nurse.sign", "pw-ngis.esrun-2026", "approval")
    assert doctor.signatures(REF) == []
    assert actions(doctor).count("sign_failed") == 2
    with pytest.raises(ValidationError, match="Signature meaning"):
        doctor.sign(REF, "dr.sign", "pw-ngis.rd-2026", "whatever")


def test_roles_that_may_not_sign_are_refused(people: dict[str, Lifecycle]) -> None:
    complete_form(people["investigator"])
    with pytest.raises(PermissionDenied):
        people["nurse"].sign(REF, "nurse.sign", "pw-ngis.esrun-2026", "author")
    with pytest.raises(PermissionDenied):
        people["monitor"].sign(REF, "monitor.sign", "pw-ngis.rotinom-2026", "review")


def test_signing_an_incomplete_form_lists_what_blocks(people: dict[str, Lifecycle]) -> None:
    doctor = people["investigator"]
    doctor.entry.save_item(REF, ("lb", 0, "LBDAT"), "20/11/2026")
    with pytest.raises(FormIncomplete) as err:
        doctor.sign(REF, "dr.sign", "pw-ngis.rd-2026", "approval")
    assert [b.rule for b in err.value.blockers] == ["required"]


def test_monitor_cannot_change_data(people: dict[str, Lifecycle]) -> None:
    complete_form(people["investigator"])
    with pytest.raises(PermissionDenied):
        people["monitor"].entry.save_item(REF, ("lb", 0, "CREAT"), "90", reason="x")


def test_locked_form_refuses_rows_too(people: dict[str, Lifecycle]) -> None:
    nurse, doctor, monitor = people["nurse"], people["investigator"], people["monitor"]
    ref = FormRef("01-001", "D0", "vital_signs")
    nurse.entry.save_values(ref, {("vs", 1, k): v for k, v in {"VSTIM": "10:00", "VSTEMP": "37", "VSHR": "70",
                                                                 "VSSYSBP": "120", "VSDIABP": "70",
                                                                 "VSSPO2": "98"}.items()})
    nurse.entry.mark_complete(ref)
    doctor.sign(ref, "dr.sign", "pw-ngis.rd-2026", "review")
    monitor.lock(ref)
    with pytest.raises(ValidationError, match="locked"):
        nurse.entry.add_row(ref, "vs", reason="extra reading")
    with pytest.raises(ValidationError, match="locked"):
        nurse.entry.remove_row(ref, "vs", 1, "wrong")
    assert nurse.entry.open_form(ref).status == FormStatus.LOCKED


def test_the_whole_subject_is_locked_at_the_end(people: dict[str, Lifecycle]) -> None:
    doctor, monitor = people["investigator"], people["monitor"]
    complete_form(doctor)
    with pytest.raises(ValidationError, match="not signed: SCR/renal_function"):
        monitor.lock_subject("01-001")
    doctor.sign(REF, "dr.sign", "pw-ngis.rd-2026", "approval")
    monitor.lock_subject("01-001")
    assert doctor.entry.open_form(REF).status == FormStatus.LOCKED
    with pytest.raises(ValidationError, match="locked"):  # no new form either
        doctor.entry.save_item(FormRef("01-001", "M3", "labs"), ("lb", 0, "CRP"), "3")
    with pytest.raises(PermissionDenied):
        monitor.unlock_subject("01-001", "late laboratory result to add")
    with pytest.raises(ValidationError):
        doctor.unlock_subject("01-001", "")
    doctor.unlock_subject("01-001", "late laboratory result to add")
    doctor.entry.save_item(FormRef("01-001", "M3", "labs"), ("lb", 0, "CRP"), "3")


def test_a_locked_subject_shows_on_the_subject_list(people: dict[str, Lifecycle]) -> None:
    from msc_sle_crf.services.overview import Overview

    doctor, monitor = people["investigator"], people["monitor"]
    complete_form(doctor)
    doctor.sign(REF, "dr.sign", "pw-ngis.rd-2026", "approval")
    monitor.lock_subject("01-001")
    [row] = Overview(doctor.ctx, doctor.study).subject_rows()
    assert row.next_action.en == "Locked (end of study)"
