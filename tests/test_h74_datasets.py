"""h74: what the statistician's datasets say beyond tests/test_h72_findings.py (the exporter's name in a
de-identified manifest, the stored subject status kept with what the app shows, the precision of a unit)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef.definitions import Item
from msc_sle_crf.services import Site, Workspace

from .helpers.demo_data import monitored_demo


@pytest.fixture(scope="module")
def doctor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    site = Site.open(monitored_demo(tmp_path_factory.mktemp("h74") / "demo.crfdb"), clock=FakeClock())
    try:
        yield Workspace.sign_in(site, "dr.martin", "training-doctor")
    finally:
        site.close()


def test_a_deidentified_manifest_names_the_exporter_by_account_only(doctor: Workspace, tmp_path: Path) -> None:
    """MANIFEST.json's generated_by carried the exporter's full name in a de-identified export (README: it leaves
    out full names); the account name, role and workstation stay (who exported is still said)."""
    from msc_sle_crf.export import ExportOptions

    doctor.export.export(tmp_path / "deid", ExportOptions(deidentified=True))
    text = (tmp_path / "deid" / "MANIFEST.json").read_text(encoding="utf-8")
    assert "Claire Martin" not in text
    assert json.loads(text)["generated_by"]["username"] == "dr.martin"
    assert json.loads(text)["dataset_labels"] == "en"  # the _LBL columns' language, whoever exported


# ----- the precision of the unit a number is typed in -----------------------------------------------------------------
def _creatinine() -> Item:
    return Item.model_validate({"id": "CREAT", "type": "decimal", "precision": 1, "unit": "µmol/L",
                                "label": {"en": "Creatinine", "fr": "Créatinine"},
                                "alt_units": [{"unit": "mg/dL", "factor": "88.4", "precision": 2}]})


def test_a_number_typed_in_an_alternative_unit_takes_that_units_precision_and_the_refusal_names_it() -> None:
    from msc_sle_crf.formdef import values as V

    item = _creatinine()
    assert V.parse(item, "0,77", unit="mg/dL") == Decimal("0.77")
    with pytest.raises(V.ParseError) as err:
        V.parse(item, "0,775", unit="mg/dL")
    assert (err.value.rule.en, err.value.rule.fr) == ("at most 2 decimal place(s) in mg/dL",
                                                      "au plus 2 décimale(s) en mg/dL")
    with pytest.raises(V.ParseError) as err:
        V.parse(item, "68,07")  # the item's own unit keeps the item's precision
    assert err.value.rule.en == "at most 1 decimal place(s) in µmol/L"


def test_an_alternative_unit_without_precision_keeps_the_content_hash_of_definitions_written_before() -> None:
    """Definitions stored with the data were hashed without the new key: an alternative unit that does not give
    one must dump as before, or every stored form with alternative units would look changed."""
    from msc_sle_crf.formdef.definitions import AltUnit

    assert AltUnit(unit="g/L", factor=Decimal("0.1")).model_dump(mode="json") == {"unit": "g/L", "factor": "0.1"}


def test_the_compiler_refuses_an_alternative_unit_coarser_than_the_items_precision(tmp_path: Path) -> None:
    from msc_sle_crf.formdef import check_dir

    from .forms_helpers import copy_forms, write

    folder = copy_forms(tmp_path)
    write(folder, "creat_extra.yaml", """
        id: creat_extra
        version: "1"
        label: {en: Creatinine, fr: Créatinine}
        groups:
          - id: lb
            label: {en: Labs, fr: Biologie}
            items:
              - id: CREAT
                type: decimal
                precision: 1
                unit: µmol/L
                label: {en: Creatinine, fr: Créatinine}
                alt_units: [{unit: mg/dL, factor: 88.4}]
              - id: CREAT2
                type: decimal
                precision: 1
                unit: µmol/L
                label: {en: Creatinine, fr: Créatinine}
                alt_units: [{unit: mg/dL, factor: 88.4, precision: 2}]
              - id: PLAT
                type: integer
                unit: G/L
                label: {en: Platelets, fr: Plaquettes}
                alt_units: [{unit: /mm3, factor: 0.001, precision: 1}]
        """)
    errors = [str(e) for e in check_dir(folder).errors]
    assert any("creat_extra.yaml:13: item 'CREAT': a value typed in mg/dL with 1 decimal place(s) steps by 8.84 "
               "µmol/L" in e and "precision: 2}" in e for e in errors), errors
    assert not any("'CREAT2'" in e for e in errors), errors
    assert any("item 'PLAT': precision applies only to decimal items" in e for e in errors), errors


def test_the_export_reads_the_stage_the_subject_list_shows_for_every_subject(doctor: Workspace) -> None:
    """subjects.csv STATUS comes from Overview.stages (portable SQL, as the hub runs it); the subject list from its
    SQLite read model: both must say the same stage, and the demo has more than one."""
    shown = {r.subject.subject_number: r.stage for r in doctor.overview.subject_rows()}
    assert doctor.overview.stages() == shown
    assert len(set(shown.values())) > 1


def test_unlocking_a_subject_gives_back_the_status_it_had_before_the_lock(site: Site, admin: Workspace) -> None:
    """The stored subject.status is the lock flag (the stage is computed, see stage_of); unlocking wrote "followed"
    whatever the subject was (a screening failure included): it now gives back what the lock replaced."""
    from sqlalchemy import select

    from msc_sle_crf.store.tables import Subject
    from tests.conftest import make_user

    doctor = Workspace.sign_in(site, "dr.h74", make_user(admin, "dr.h74", "investigator"))
    number = doctor.subjects.register("SCR", 1980, "F").subject.subject_number  # no form: lockable at once
    doctor.lifecycle.lock_subject(number)
    doctor.lifecycle.unlock_subject(number, "screening failure file reopened")
    with doctor.ctx.read() as session:
        status = session.execute(select(Subject.status).where(Subject.subject_number == number)).scalar_one()
    assert status == "screening"
    assert doctor.overview.stages()[number] == "screening"
