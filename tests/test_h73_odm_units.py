"""h73: what an ODM or Dataset-JSON reader gets from the export, beyond h72's findings (tests/test_h72_findings.py):
the unit a value was typed in is the one its MeasurementUnitRef names, a converted value is never rounded and its
ItemDef says how many decimals it may have, a signature names the workstation it was made on, and every column of
a Dataset-JSON file resolves in the metadata it references."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.export import odm
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from tests.conftest import make_user

from .helpers.demo_data import monitored_demo

NS = {"o": odm.NS}


def _unit_of(doc: etree._ElementTree, element: etree._Element) -> str | None:
    """The symbol of the unit an element's MeasurementUnitRef names (None: no ref)."""
    ref = element.find("o:MeasurementUnitRef", NS)
    if ref is None:
        return None
    mu = doc.find(f".//o:MeasurementUnit[@OID='{ref.get('MeasurementUnitOID')}']", NS)
    return mu.findtext("o:Symbol/o:TranslatedText", namespaces=NS)


@pytest.fixture
def typed(site: Site, admin: Workspace, tmp_path: Path) -> tuple[str, Path]:
    """A subject whose M0 labs have WBC typed in /mm3, platelets in /mm3, creatinine in mg/dL and haemoglobin in
    the item's own unit (none chosen); exported."""
    doctor = Workspace.sign_in(site, "dr.h73", make_user(admin, "dr.h73", "investigator"))
    subject = doctor.subjects.register("LMB", 1985, "F").subject.subject_number
    ref = FormRef(subject, "M0", "labs")
    doctor.entry.save_item(ref, ("lb", 0, "WBC"), "4512", unit="/mm3")
    doctor.entry.save_item(ref, ("lb", 0, "PLAT"), "250123", unit="/mm3")
    doctor.entry.save_item(ref, ("lb", 0, "CREAT"), "0,9", unit="mg/dL")
    doctor.entry.save_item(ref, ("lb", 0, "HGB"), "12,5")
    out = tmp_path / "export"
    doctor.export.export(out)
    return subject, out


def test_each_value_of_the_archival_file_names_the_unit_it_was_typed_in(typed: tuple[str, Path]) -> None:
    subject, out = typed
    path = out / "odm" / "archival.xml"
    assert odm.validate(path) is None
    doc = etree.parse(str(path))
    got = {}
    for item in ("WBC", "PLAT", "CREAT", "HGB"):
        el = doc.find(f".//o:SubjectData[@SubjectKey='{subject}']//o:ItemData[@ItemOID='I.labs.{item}']", NS)
        got[item] = (el.get("Value"), _unit_of(doc, el))
    assert got == {"WBC": ("4512", "/mm3"), "PLAT": ("250123", "/mm3"), "CREAT": ("0.9", "mg/dL"),
                   "HGB": ("12.5", "g/dL")}
    wbc = doc.find(".//o:ItemDef[@OID='I.labs.WBC']", NS)
    assert [_unit_of(doc, wbc)] == ["G/L"]  # the canonical unit first: the ranges' and the datasets' unit
    listed = [doc.find(f".//o:MeasurementUnit[@OID='{r.get('MeasurementUnitOID')}']/o:Symbol/o:TranslatedText",
                       NS).text for r in wbc.iterfind("o:MeasurementUnitRef", NS)]
    assert listed == ["G/L", "/mm3"]
    check = wbc.find("o:RangeCheck", NS)
    assert _unit_of(doc, check) == "G/L"


def test_the_snapshot_carries_converted_values_unrounded_in_the_unit_it_names(typed: tuple[str, Path]) -> None:
    """4512 /mm3 is 4.512 G/L (rounding to the item's 2 decimals would lose what was typed); the ItemDef declares
    the decimals such a value has; an integer item typed in /mm3 holds a fraction, declared a float."""
    subject, out = typed
    path = out / "odm" / "snapshot.xml"
    assert odm.validate(path) is None
    doc = etree.parse(str(path))
    # (the decimals declared: the item's precision plus the factor's, 2 + 3 for WBC in /mm3, 0 + 3 for PLAT; at
    # least the 2 of 79.56 for CREAT, whose mg/dL may take more decimals than its µmol/L)
    for item, value, unit, decimals in (("WBC", "4.512", "G/L", 5), ("PLAT", "250.123", "G/L", 3),
                                        ("CREAT", "79.56", "µmol/L", 2)):
        el = doc.find(f".//o:SubjectData[@SubjectKey='{subject}']//o:ItemData[@ItemOID='I.labs.{item}']", NS)
        assert (Decimal(el.get("Value")), _unit_of(doc, el)) == (Decimal(value), unit)
        item_def = doc.find(f".//o:ItemDef[@OID='I.labs.{item}']", NS)
        declared = int(item_def.get("SignificantDigits"))
        assert item_def.get("DataType") == "float"
        assert declared == decimals if item != "CREAT" else declared >= decimals, (item, declared)


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    path = monitored_demo(tmp_path_factory.mktemp("h73") / "demo.crfdb")
    site = Site.open(path, clock=FakeClock())
    try:
        doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
        out = tmp_path_factory.mktemp("h73-out") / "export"
        doctor.export.export(out)
        yield out, site.workstation
    finally:
        site.close()


def test_a_signature_names_the_workstation_it_was_made_on(demo_export: tuple[Path, str]) -> None:
    out, workstation = demo_export
    doc = etree.parse(str(out / "odm" / "snapshot.xml"))
    named = {e.get("LocationOID") for e in doc.iterfind(".//o:Signature/o:LocationRef", NS)}
    assert named == {odm.location_oid(workstation)}


def test_every_column_of_an_item_group_dataset_resolves_and_keys_are_numbered_from_one(
        demo_export: tuple[Path, str]) -> None:
    out, _ = demo_export
    meta = etree.parse(str(out / "odm" / "snapshot.xml"))
    groups = {e.get("OID") for e in meta.iterfind(".//o:ItemGroupDef", NS)}
    items = {e.get("OID") for e in meta.iterfind(".//o:ItemDef", NS)}
    unresolved = []
    for path in sorted((out / "datasets-json").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = sorted(c["keySequence"] for c in data["columns"] if "keySequence" in c)
        assert keys == list(range(1, len(keys) + 1)), path.name
        if path.stem in ("subjects", "scores"):
            continue
        assert data["itemGroupOID"] in groups, path.name
        unresolved += [f"{path.stem}.{c['name']}" for c in data["columns"] if c["itemOID"] not in items]
    assert unresolved == []
    missing = meta.find(".//o:ItemDef[@OID='I.labs.CRP.MISS']/o:CodeListRef", NS)
    assert missing is not None and missing.get("CodeListOID") == odm.NULL_FLAVOR


def test_dataset_json_declares_an_integer_typed_in_another_unit_a_decimal(typed: tuple[str, Path]) -> None:
    """Platelets (an integer in G/L) typed 250123 /mm3 is 250.123 G/L: its Dataset-JSON column said "integer"
    while holding "250.123" (a reader casting to integer truncates it); declared decimal, as its ItemDef."""
    subject, out = typed
    data = json.loads((out / "datasets-json" / "labs__lb.json").read_text(encoding="utf-8"))
    names = [c["name"] for c in data["columns"]]
    plat = data["columns"][names.index("PLAT")]
    row = next(dict(zip(names, r, strict=True)) for r in data["rows"] if r[0] == subject)
    assert (plat["dataType"], row["PLAT"]) == ("decimal", "250.123")


def test_a_value_typed_in_a_unit_the_forms_no_longer_list_is_archived_converted() -> None:
    """A record of a value typed in a unit since removed from the form (no MeasurementUnit for it in the file):
    the converted value its record holds ("= 79.56 µmol/L"), in that unit, the typed one as a comment; never the
    typed number alone, which a reader would take for µmol/L."""
    from msc_sle_crf.formdef import load_study

    study = load_study()
    unit_oids = odm.units(study)
    rec = (7, "2026-03-01T09:00:00.000Z", 60, "dr.h73", "investigator", "WS-01", "data_entry", "99-001", "M0",
           "labs", "CREAT", "lb:0", None, "1.02 mg/100mL", None, "= 79.56 µmol/L", "0" * 64, "1" * 64, None)
    out: list[str] = []
    odm.transaction(out, rec, study.forms, deidentified=False, unit_oids=unit_oids)
    item = etree.fromstring(f'<r xmlns="{odm.NS}">{"".join(out)}</r>').find(".//o:ItemData", NS)
    ref = item.find("o:MeasurementUnitRef", NS)
    assert (item.get("Value"), ref is not None and ref.get("MeasurementUnitOID")) == ("79.56", unit_oids["µmol/L"])
    assert item.findtext("o:Annotation/o:Comment", namespaces=NS) == "entered as 1.02 mg/100mL"


def test_the_codebook_and_scripts_read_an_integer_typed_in_another_unit_as_a_number_with_decimals(
        typed: tuple[str, Path]) -> None:
    """h73's remark: the codebook (and so import.R / import.sas) still typed platelets "integer" once a count typed
    in /mm3 is stored 250.123 G/L: R's as.integer("250.123") gives 250, silently."""
    import csv

    _, out = typed
    with open(out / "codebook.csv", encoding="utf-8-sig", newline="") as fh:
        rows = {(r["dataset"], r["variable"]): r for r in csv.DictReader(fh)}
    assert rows[("labs__lb", "PLAT")]["type"] == "float"
    assert rows[("labs__lb", "HGB")]["type"] == "float"
