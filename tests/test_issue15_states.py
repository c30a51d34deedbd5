"""Item 7: states are respected by every write path: a locked subject, a disabled account's open session, a locked
screen, and who may unlock (from study.yaml)."""

from __future__ import annotations

import pytest

from msc_sle_crf.errors import AuthenticationError, Msg, PermissionDenied, ValidationError
from msc_sle_crf.formdef import load_study
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus

from .conftest import make_user

REF = FormRef("01-001", "SCR", "renal_function")
M3 = FormRef("01-001", "M3", "labs")


@pytest.fixture
def team(site: Site, admin: Workspace) -> dict[str, Workspace]:
    out = {"admin": admin}
    for name, role in (("dr.s", "investigator"), ("nurse.s", "nurse"), ("monitor.s", "monitor")):
        out[role] = Workspace.sign_in(site, name, make_user(admin, name, role))
    out["investigator"].subjects.register("ABC", 1980, "F")
    return out


def _locked_subject(team: dict[str, Workspace]) -> None:
    doctor = team["investigator"]
    doctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(REF)
    doctor.lifecycle.sign(REF, "dr.s", "pw-s.rd-2026", "approval")
    team["monitor"].lifecycle.lock_subject("01-001")


def test_a_locked_subject_refuses_every_change_and_every_form_unlock(team: dict[str, Workspace]) -> None:
    _locked_subject(team)
    doctor, nurse, monitor = team["investigator"], team["nurse"], team["monitor"]
    attempts = {
        "unlock one form": lambda: doctor.lifecycle.unlock(REF, "one more value"),
        "change a value": lambda: doctor.entry.save_item(REF, ("lb", 0, "CREAT"), "90", reason="typo"),
        "value in a new form": lambda: doctor.entry.save_item(M3, ("lb", 0, "CRP"), "3"),
        "not done": lambda: doctor.entry.set_missing(M3, ("lb", 0, "CRP"), "ND", "tube lost"),
        "mark complete": lambda: doctor.entry.mark_complete(M3),
        "source verify": lambda: monitor.lifecycle.source_verify(REF),
        "bedside comment": lambda: nurse.bedside.comment("01-001", "patient comfortable"),
        "bedside timer": lambda: nurse.bedside.timer("01-001", T.Kind.START),
        "vital signs not done": lambda: nurse.bedside.not_done("01-001", "T15", "patient asleep"),
    }
    for name, attempt in attempts.items():
        with pytest.raises(ValidationError) as err:
            attempt()
        assert err.value.msg in (Msg.SUBJECT_LOCKED, Msg.FORM_LOCKED), name
    assert doctor.entry.open_form(REF).status is FormStatus.LOCKED
    assert doctor.entry.statuses("01-001") == {("SCR", "renal_function"): FormStatus.LOCKED}
    # the subject is unlocked as a whole, with a reason, by a role allowed to: then changes are possible again
    doctor.lifecycle.unlock_subject("01-001", "late laboratory result")
    doctor.entry.save_item(M3, ("lb", 0, "CRP"), "3")


def test_the_monitor_can_no_longer_unlock_and_the_admin_can(team: dict[str, Workspace]) -> None:
    doctor, monitor = team["investigator"], team["monitor"]
    doctor.entry.save_values(REF, {("lb", 0, "LBDAT"): "20/11/2026", ("lb", 0, "CREAT"): "88"})
    doctor.entry.mark_complete(REF)
    doctor.lifecycle.sign(REF, "dr.s", "pw-s.rd-2026", "approval")
    monitor.lifecycle.lock(REF)
    assert "unlock" not in monitor.lifecycle.available(FormStatus.LOCKED)
    with pytest.raises(PermissionDenied):
        monitor.lifecycle.unlock(REF, "please")
    admin_lc = Workspace(team["admin"].site, team["admin"].actor, doctor.study).lifecycle
    admin_lc.unlock(REF, "data manager request")
    assert doctor.entry.open_form(REF).status is FormStatus.SIGNED
    denied = [r for r in team["admin"].integrity.audit_trail(limit=30) if r.action == "access_denied"]
    assert denied and "unlock" in (denied[0].detail or "")


def test_unlock_roles_come_from_the_study(team: dict[str, Workspace]) -> None:
    study = load_study()
    rules = study.meta.signatures.model_copy(update={"unlock_roles": ("investigator",)})
    only_doctors = study.model_copy(update={"meta": study.meta.model_copy(update={"signatures": rules})})
    admin = Workspace(team["admin"].site, team["admin"].actor, only_doctors)
    assert not admin.lifecycle.may_unlock()
    with pytest.raises(PermissionDenied):
        admin.lifecycle.unlock_subject("01-001", "reason")
    assert set(load_study().meta.signatures.unlock_roles) == {"investigator", "admin"}


def test_a_disabled_accounts_open_session_ends_at_its_next_action(team: dict[str, Workspace]) -> None:
    nurse = team["nurse"]
    assert nurse.subjects.list()
    team["admin"].accounts.disable_user("nurse.s", "left the unit")
    for attempt in (nurse.subjects.list, lambda: nurse.subjects.register("DEF", 1970, "M"),
                    lambda: nurse.drafts.save("k", {"a": 1}), nurse.settings.all,
                    lambda: nurse.entry.save_item(REF, ("lb", 0, "CREAT"), "90")):
        with pytest.raises(AuthenticationError) as err:
            attempt()
        assert err.value.msg is Msg.ACCOUNT_DISABLED
    ended = [r for r in team["admin"].integrity.audit_trail(limit=30)
             if r.username == "nurse.s" and r.action == "access_denied"]
    assert len(ended) == 1 and "disabled" in (ended[0].detail or "")


def test_a_locked_screen_allows_only_the_locking_users_own_draft(team: dict[str, Workspace]) -> None:
    nurse = team["nurse"]
    nurse.drafts.save("subject-new", {"initials": "AB"})
    nurse.lock()
    nurse.drafts.save("subject-new", {"initials": "ABC"})  # what was being typed is kept
    for attempt in (lambda: nurse.drafts.load("subject-new"), lambda: nurse.drafts.discard("subject-new"),
                    nurse.settings.all, lambda: nurse.settings.get("site_name"), nurse.subjects.list,
                    lambda: nurse.subjects.register("DEF", 1970, "M")):
        with pytest.raises(AuthenticationError) as err:
            attempt()
        assert err.value.msg is Msg.SCREEN_LOCKED
    nurse.unlock("pw-s.esrun-2026")
    assert nurse.drafts.load("subject-new") == {"initials": "ABC"}
