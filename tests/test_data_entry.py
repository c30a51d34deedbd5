"""Form data through the service layer: refused, confirmed, stored, audited, completed, changed with a reason."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from msc_sle_crf.errors import PermissionDenied, ValidationError
from msc_sle_crf.formdef.definitions import FormDef, MissingCode, StudyDef
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import (
    DataEntry,
    FormIncomplete,
    FormRef,
    SoftCheckNeedsConfirmation,
)
from msc_sle_crf.services.subjects import Subjects
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import AuditEvent, Draft, FormInstance, ItemValue

from .conftest import make_user
from .forms_helpers import STUDY


@pytest.fixture
def team(site: Site, admin: Workspace) -> dict[str, DataEntry]:
    out = {}
    for name, role in (("dr.house", "investigator"), ("nurse.joy", "nurse"), ("monitor.mo", "monitor")):
        out[role] = Workspace.sign_in(site, name, make_user(admin, name, role)).entry
    return out


@pytest.fixture
def subject(team: dict[str, DataEntry]) -> str:
    return Subjects(team["investigator"].ctx).register("ABC", 1980, "F").subject.subject_number


def audit(entry: DataEntry, action: str) -> list[AuditEvent]:
    with entry.ctx.store.read() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.id)).scalars().all()
        session.expunge_all()
        return list(rows)


def fill_vitals(nurse: DataEntry, ref: FormRef, row: int, **values: str) -> None:
    defaults = {"VSTIM": "10:15", "VSTEMP": "37,1", "VSHR": "72", "VSSYSBP": "120", "VSDIABP": "75", "VSSPO2": "98"}
    for item, text in {**defaults, **values}.items():
        nurse.save_item(ref, ("vs", row, item), text)


def test_a_value_is_stored_and_audited_as_draft_entry(team: dict[str, DataEntry], subject: str) -> None:
    nurse = team["nurse"]
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.add_row(ref, "vs").row
    result = nurse.save_item(ref, ("vs", row, "VSTEMP"), "37,5")
    assert result.saved and result.status == FormStatus.DRAFT
    snap = nurse.open_form(ref)
    assert snap.state.value(("vs", row, "VSTEMP")) == Decimal("37.5")
    entry = audit(nurse, "data_entry")[-1]
    assert (entry.username, entry.subject, entry.visit, entry.form, entry.item, entry.repeat_key, entry.new_value) == (
        "nurse.joy", subject, "D0", "vital_signs", "VSTEMP", f"vs:{row}", "37.5")
    assert nurse.save_item(ref, ("vs", row, "VSTEMP"), "37.50").saved is False  # same value: no new record
    with nurse.ctx.store.read() as session:
        instance = session.execute(select(FormInstance)).scalar_one()
        assert (instance.form_version, instance.form_hash) == ("1.1", STUDY.forms["vital_signs"].content_hash())


def test_impossible_value_is_refused_with_field_and_rule(team: dict[str, DataEntry], subject: str) -> None:
    nurse = team["nurse"]
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.add_row(ref, "vs").row
    with pytest.raises(ValidationError) as err:
        nurse.save_item(ref, ("vs", row, "VSTEMP"), "44")
    assert err.value.message() == ("Temperature: 44 °C is above the highest possible value 43 °C. "
                                   "The value was not saved.")
    assert err.value.message(Lang.FR).startswith("Température : 44 °C dépasse")
    with pytest.raises(ValidationError, match="a number is expected"):
        nurse.save_item(ref, ("vs", row, "VSTEMP"), "37,5,")
    with nurse.ctx.store.read() as session:
        assert session.execute(select(ItemValue)).scalars().all() == []
    assert audit(nurse, "data_entry") == []


def test_unusual_value_needs_a_recorded_confirmation(team: dict[str, DataEntry], subject: str) -> None:
    nurse = team["nurse"]
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.add_row(ref, "vs").row
    with pytest.raises(SoftCheckNeedsConfirmation, match="unusually high"):
        nurse.save_item(ref, ("vs", row, "VSTEMP"), "38,6")
    assert audit(nurse, "data_entry") == []
    nurse.save_item(ref, ("vs", row, "VSTEMP"), "38,6", confirm=True)
    record = audit(nurse, "data_entry")[-1]
    assert record.new_value == "38.6"
    assert record.detail is not None and record.detail.startswith("confirmed: Temperature: 38.6 °C is unusually high")
    with nurse.ctx.store.read() as session:
        assert session.execute(select(ItemValue.confirmed)).scalar_one() == "soft_max"
    snap = nurse.open_form(ref)
    assert all(i.confirmed for i in snap.state.issues(("vs", row, "VSTEMP")))


def test_roles_decide_who_enters_which_form(team: dict[str, DataEntry], subject: str) -> None:
    with pytest.raises(PermissionDenied):
        team["nurse"].save_item(FormRef(subject, "SCR", "demographics"), ("dm", 0, "HEIGHT"), "170")
    with pytest.raises(PermissionDenied):
        team["monitor"].save_item(FormRef(subject, "D0", "infusion"), ("ex", 0, "EXSTTIM"), "10:00")
    team["investigator"].save_item(FormRef(subject, "SCR", "demographics"), ("dm", 0, "HEIGHT"), "170")
    snap = team["monitor"].open_form(FormRef(subject, "SCR", "demographics"))  # monitors read
    assert snap.state.value(("dm", 0, "HEIGHT")) == 170
    assert len(audit(team["nurse"], "access_denied")) == 2


def test_wrong_visit_item_or_row_is_refused(team: dict[str, DataEntry], subject: str) -> None:
    dr = team["investigator"]
    with pytest.raises(ValidationError, match="not part of visit"):
        dr.save_item(FormRef(subject, "M1", "demographics"), ("dm", 0, "HEIGHT"), "170")
    with pytest.raises(ValidationError, match="no item 'NOPE'"):
        dr.save_item(FormRef(subject, "SCR", "demographics"), ("dm", 0, "NOPE"), "1")
    with pytest.raises(ValidationError, match="row 7 does not exist"):
        dr.save_item(FormRef(subject, "D0", "vital_signs"), ("vs", 7, "VSTEMP"), "37")
    with pytest.raises(ValidationError, match="calculated"):
        dr.save_item(FormRef(subject, "SCR", "demographics"), ("dm", 0, "BMI"), "22")
    with pytest.raises(ValidationError, match="No subject"):
        dr.save_item(FormRef("99-999", "SCR", "demographics"), ("dm", 0, "HEIGHT"), "170")


def test_mark_complete_lists_what_blocks_then_changes_need_a_reason(team: dict[str, DataEntry],
                                                                   subject: str) -> None:
    nurse = team["nurse"]
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.add_row(ref, "vs").row
    fill_vitals(nurse, ref, row, VSSYSBP="100", VSDIABP="105")
    with pytest.raises(FormIncomplete) as err:
        nurse.mark_complete(ref)
    assert [b.rule for b in err.value.blockers] == ["check:diastolic_below_systolic"]
    assert "diastolic pressure must be lower than systolic pressure" in err.value.message()
    set_lang(Lang.FR)
    assert "Le formulaire ne peut pas être marqué complet (1 problème(s))" in err.value.message()
    set_lang(Lang.EN)
    nurse.save_item(ref, ("vs", row, "VSDIABP"), "65")
    nurse.mark_complete(ref)
    assert nurse.open_form(ref).status == FormStatus.COMPLETE
    with pytest.raises(ValidationError, match="a reason for the change is required"):
        nurse.save_item(ref, ("vs", row, "VSHR"), "75")
    nurse.save_item(ref, ("vs", row, "VSHR"), "75", reason="transcription error: monitor showed 75")
    change = audit(nurse, "data_change")[-1]
    assert (change.old_value, change.new_value, change.reason) == ("72", "75", "transcription error: monitor "
                                                                   "showed 75")
    history = nurse.item_history(ref, ("vs", row, "VSHR"))
    assert [(h.action, h.old_value, h.new_value, h.username) for h in history] == [
        ("data_entry", None, "72", "nurse.joy"), ("data_change", "72", "75", "nurse.joy")]
    # Clearing a required value on a complete form (with a reason) puts it back to draft, audited.
    result = nurse.save_item(ref, ("vs", row, "VSHR"), "", reason="wrong patient's monitor")
    assert result.status == FormStatus.DRAFT
    assert audit(nurse, "status_change")[-1].new_value == FormStatus.DRAFT


def test_alternative_unit_is_kept_with_the_canonical_value(team: dict[str, DataEntry], subject: str) -> None:
    dr = team["investigator"]
    ref = FormRef(subject, "SCR", "renal_function")
    dr.save_item(ref, ("lb", 0, "CREAT"), "1,2", unit="mg/dL")
    with dr.ctx.store.read() as session:
        row = session.execute(select(ItemValue)).scalar_one()
        assert (row.value, row.unit, row.canonical) == ("1.2", "mg/dL", "106.08")
    assert audit(dr, "data_entry")[-1].detail == "= 106.08 µmol/L"
    dr.save_item(ref, ("lb", 0, "CREAT"), "106", unit="µmol/L")  # canonical unit is stored as such
    with dr.ctx.store.read() as session:
        row = session.execute(select(ItemValue)).scalar_one()
        assert (row.value, row.unit, row.canonical) == ("106", None, None)


def test_not_done_with_reason(team: dict[str, DataEntry], subject: str) -> None:
    dr = team["investigator"]
    ref = FormRef(subject, "SCR", "renal_function")
    key = ("lb", 0, "CREAT")
    with pytest.raises(ValidationError, match="needs a reason"):
        dr.set_missing(ref, key, MissingCode.NOT_DONE, "  ")
    with pytest.raises(ValidationError, match="'Not applicable' is not allowed"):
        dr.set_missing(ref, key, MissingCode.NOT_APPLICABLE, "why not")
    dr.set_missing(ref, key, "ND", "haemolysed sample")
    assert audit(dr, "data_entry")[-1].new_value == "[ND] haemolysed sample"
    state = dr.open_form(ref).state
    assert state.cell(key).missing is MissingCode.NOT_DONE
    assert not [b for b in state.blockers() if b.key == key]


def test_typing_buffer_keeps_unaccepted_text_unaudited(team: dict[str, DataEntry], subject: str) -> None:
    nurse = team["nurse"]
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.add_row(ref, "vs").row
    nurse.save_typing(ref, ("vs", row, "VSTEMP"), "3")  # the first use seals the user's drafts once (a mark)
    before = len(audit(nurse, "draft_save"))
    nurse.save_typing(ref, ("vs", row, "VSTEMP"), "37,")
    nurse.save_typing(ref, ("vs", row, "VSTEMP"), "37,8")
    assert len(audit(nurse, "draft_save")) == before
    snap = nurse.open_form(ref)
    assert snap.state.cell(("vs", row, "VSTEMP")).value == Decimal("37.8")  # restored as typed
    nurse.save_item(ref, ("vs", row, "VSTEMP"), "37,8")
    with nurse.ctx.store.read() as session:
        assert session.execute(select(Draft)).scalars().all() == []
    # Another user does not see this user's buffer.
    nurse.save_typing(ref, ("vs", row, "VSHR"), "7")
    assert team["investigator"].typed_buffer(ref) == {}


def test_hidden_values_are_cleared_at_completion_with_a_trace(team: dict[str, DataEntry], subject: str) -> None:
    dr = team["investigator"]
    ref = FormRef(subject, "SCR", "demographics")
    for item, text in {"BRTHDAT": "UK/06/1980", "ETHNIC": "NR", "HEIGHT": "165", "WEIGHT": "62,5",
                       "CHILDPOT": "Y", "CONTRACP": "IUD"}.items():
        dr.save_item(ref, ("dm", 0, item), text)
    dr.save_item(ref, ("dm", 0, "CHILDPOT"), "N")
    dr.mark_complete(ref)
    cleared = [a for a in audit(dr, "data_entry") if a.item == "CONTRACP"][-1]
    assert (cleared.old_value, cleared.new_value) == ("IUD", None)
    assert cleared.reason == "not applicable (condition not met) at completion"
    assert dr.open_form(ref).state.value(("dm", 0, "BMI")) == Decimal("23.0")


def test_removed_row_keeps_its_values_in_the_audit_trail(team: dict[str, DataEntry], subject: str) -> None:
    nurse = team["nurse"]
    ref = FormRef(subject, "D0", "vital_signs")
    r1, r2 = nurse.add_row(ref, "vs").row, nurse.add_row(ref, "vs").row
    fill_vitals(nurse, ref, r1)
    with pytest.raises(ValidationError):
        nurse.remove_row(ref, "vs", r1, " ")
    nurse.remove_row(ref, "vs", r1, "entered on the wrong time point")
    removed = audit(nurse, "row_remove")[-1]
    assert json.loads(removed.old_value or "{}")["VSTEMP"] == "37.1"
    assert nurse.open_form(ref).state.rows["vs"] == [r2]
    assert nurse.add_row(ref, "vs").row == 3  # row numbers are never reused


def test_data_stays_readable_under_the_version_it_was_entered_with(team: dict[str, DataEntry],
                                                                    subject: str) -> None:
    dr = team["investigator"]
    ref = FormRef(subject, "SCR", "renal_function")
    dr.save_item(ref, ("lb", 0, "CREAT"), "250")
    # A new protocol version changes the form: new soft limit, new version, an item renamed.
    data = STUDY.forms["renal_function"].model_dump(mode="json")
    shipped = data["version"]
    data["version"] = shipped + ".1"
    data["groups"][0]["items"][1]["soft_max"] = "200"
    data["groups"][0]["items"][2]["id"] = "UPCR"
    new_study = StudyDef(meta=STUDY.meta, forms={**STUDY.forms, "renal_function": FormDef.model_validate(data)})
    later = DataEntry(dr.ctx, new_study, dr.drafts)
    snap = later.open_form(ref)
    assert snap.outdated and snap.form.version == shipped and snap.current_version == shipped + ".1"
    assert snap.state.value(("lb", 0, "CREAT")) == Decimal(250)
    assert "PROTU" in {i.id for i in snap.form.all_items()}
    later.save_item(ref, ("lb", 0, "CREAT"), "260")  # still checked under its own version (soft max 300)
    other = Subjects(later.ctx).register("DEF", 1975, "M").subject.subject_number
    later.save_item(FormRef(other, "SCR", "renal_function"), ("lb", 0, "CREAT"), "210", confirm=True)
    with dr.ctx.store.read() as session:
        versions = dict(session.execute(select(FormInstance.id, FormInstance.form_version)).all())
    assert sorted(versions.values()) == [shipped, shipped + ".1"]


def test_audit_chain_holds_after_data_entry(team: dict[str, DataEntry], subject: str, admin: Workspace) -> None:
    nurse = team["nurse"]
    ref = FormRef(subject, "D0", "vital_signs")
    row = nurse.add_row(ref, "vs").row
    fill_vitals(nurse, ref, row)
    assert admin.integrity.verify().ok


def test_text_typed_but_not_accepted_blocks_completion(team: dict[str, DataEntry], subject: str) -> None:
    dr = team["investigator"]
    ref = FormRef(subject, "SCR", "renal_function")
    dr.save_item(ref, ("lb", 0, "LBDAT"), "20/11/2026")
    dr.save_typing(ref, ("lb", 0, "CREAT"), "31,,2")
    with pytest.raises(FormIncomplete) as err:
        dr.mark_complete(ref)
    assert [b.rule for b in err.value.blockers] == ["format"]
    dr.save_typing(ref, ("lb", 0, "CREAT"), "88")  # valid, but never committed (e.g. the app was killed)
    with pytest.raises(FormIncomplete) as err:
        dr.mark_complete(ref)
    assert [b.rule for b in err.value.blockers] == ["unsaved"]
    dr.save_item(ref, ("lb", 0, "CREAT"), "88")
    dr.mark_complete(ref)
