"""Roles are enforced in the service layer, and a refusal is audited."""

from __future__ import annotations

import pytest

from msc_sle_crf.access import PERMISSIONS, Perm, Role
from msc_sle_crf.errors import PermissionDenied
from msc_sle_crf.i18n import Lang
from msc_sle_crf.services import Site, Workspace

from .conftest import make_user


@pytest.fixture
def staff(site: Site, admin: Workspace) -> dict[str, Workspace]:
    out = {"admin": admin}
    for name, role in (("dr.i", "investigator"), ("nurse.i", "nurse"), ("monitor.i", "monitor")):
        out[role] = Workspace.sign_in(site, name, make_user(admin, name, role))
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
    ("nurse", lambda s: s.accounts.add_user("x.y.z", "X", "nurse")),
    ("monitor", lambda s: s.subjects.register("ABC", 1980, "F")),
    ("admin", lambda s: s.subjects.list()),
    ("admin", lambda s: s.subjects.register("ABC", 1980, "F")),
    ("investigator", lambda s: s.settings.set("site_name", "X")),
    ("nurse", lambda s: s.integrity.audit_trail()),
])
def test_refused_operations_raise_and_are_audited(staff: dict[str, Workspace], role: str, operation) -> None:
    services = staff[role]
    with pytest.raises(PermissionDenied) as exc:
        operation(services)
    assert "may not" in exc.value.message()
    assert "ne peut pas" in exc.value.message(Lang.FR)
    denied = [r for r in staff["admin"].integrity.audit_trail(limit=50) if r.action == "access_denied"]
    assert denied[0].username == services.actor.username and denied[0].role == role


def test_allowed_operations_work(staff: dict[str, Workspace]) -> None:
    subject = staff["nurse"].subjects.register("efg", "1990", "m").subject
    assert subject.subject_number == "01-001" and subject.initials == "EFG"
    assert [s.subject_number for s in staff["monitor"].subjects.list()] == ["01-001"]
    staff["admin"].settings.set("idle_lock_minutes", "3")
    assert staff["investigator"].settings.all()["idle_lock_minutes"] == "3"
