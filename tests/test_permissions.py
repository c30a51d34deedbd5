"""Roles are enforced in the service layer, and a refusal is audited."""

from __future__ import annotations

import pytest

from msc_sle_crf.access import PERMISSIONS, Perm, Role
from msc_sle_crf.errors import PermissionDenied
from msc_sle_crf.i18n import Lang
from msc_sle_crf.services import Services, Site

from .conftest import make_user


@pytest.fixture
def staff(site: Site, admin: Services) -> dict[str, Services]:
    out = {"admin": admin}
    for name, role in (("dr.i", "investigator"), ("nurse.i", "nurse"), ("monitor.i", "monitor")):
        out[role] = Services.sign_in(site, name, make_user(admin, name, role))
    return out


def test_matrix_matches_the_protocol_roles() -> None:
    assert Perm.MANAGE_USERS in PERMISSIONS[Role.ADMIN]
    assert Perm.VIEW_DATA not in PERMISSIONS[Role.ADMIN]
    assert Perm.SIGN_INVESTIGATOR_FORMS in PERMISSIONS[Role.INVESTIGATOR]
    assert Perm.SIGN_INVESTIGATOR_FORMS not in PERMISSIONS[Role.NURSE]
    assert Perm.ENTER_NURSING_DATA in PERMISSIONS[Role.NURSE]
    monitor = PERMISSIONS[Role.MONITOR]
    assert {Perm.VERIFY_SOURCE_DATA, Perm.MANAGE_QUERIES, Perm.PRINT} <= monitor
    assert not monitor & {Perm.REGISTER_SUBJECT, Perm.ENTER_CLINICAL_DATA, Perm.ENTER_NURSING_DATA}


@pytest.mark.parametrize(("role", "operation"), [
    ("nurse", lambda s: s.add_user("x.y.z", "X", "nurse")),
    ("monitor", lambda s: s.register_subject("ABC", 1980, "F")),
    ("admin", lambda s: s.list_subjects()),
    ("admin", lambda s: s.register_subject("ABC", 1980, "F")),
    ("investigator", lambda s: s.set_setting("site_name", "X")),
    ("nurse", lambda s: s.audit_trail()),
])
def test_refused_operations_raise_and_are_audited(staff: dict[str, Services], role: str, operation) -> None:
    services = staff[role]
    with pytest.raises(PermissionDenied) as exc:
        operation(services)
    assert "may not" in exc.value.message()
    assert "ne peut pas" in exc.value.message(Lang.FR)
    denied = [r for r in staff["admin"].audit_trail(limit=50) if r.action == "access_denied"]
    assert denied[0].username == services.actor.username and denied[0].role == role


def test_allowed_operations_work(staff: dict[str, Services]) -> None:
    subject = staff["nurse"].register_subject("efg", "1990", "m")
    assert subject.subject_number == "01-001" and subject.initials == "EFG"
    assert [s.subject_number for s in staff["monitor"].list_subjects()] == ["01-001"]
    staff["admin"].set_setting("idle_lock_minutes", "3")
    assert staff["investigator"].settings()["idle_lock_minutes"] == "3"
