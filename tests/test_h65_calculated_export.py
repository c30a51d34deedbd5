"""h63 finding 4 (tests/realwin/test_h63_findings.py holds the first failing test): a calculated item the form shows
(BMI from weight and height, the mean arterial pressure of each row of vital signs) is in every output of the export
that carries values, with the same value: the dataset CSV, its Dataset-JSON copy and the ODM snapshot (an ItemData of
the item whose ItemRef names the MethodDef); a removed row's and a not computable value are left out, as the form
leaves them blank."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lxml import etree

from msc_sle_crf.export import ExportOptions, odm
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
from tests.conftest import make_user

NS = {"o": odm.NS}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _entered(site: Site, admin: Workspace) -> tuple[Workspace, str, str]:
    doctor = Workspace.sign_in(site, "dr.calc", make_user(admin, "dr.calc", "investigator"))
    one = doctor.subjects.register("ABC", 1980, "F").subject.subject_number
    two = doctor.subjects.register("DEF", 1975, "M").subject.subject_number
    doctor.entry.save_values(FormRef(one, "SCR", "demographics"), {("dm", 0, "HEIGHT"): "165",
                                                                   ("dm", 0, "WEIGHT"): "63"})
    doctor.entry.save_values(FormRef(two, "SCR", "demographics"), {("dm", 0, "WEIGHT"): "80"})  # no height
    vitals = FormRef(one, "M1", "vital_signs")
    rows = [doctor.entry.add_row(vitals, "vs").row for _ in range(3)]
    for row, (sys_bp, dia_bp) in zip(rows, (("120", "80"), ("150", "90"), ("130", "85")), strict=True):
        doctor.entry.save_values(vitals, {("vs", row, "VSSYSBP"): sys_bp, ("vs", row, "VSDIABP"): dia_bp},
                                 confirm=True)
    doctor.entry.remove_row(vitals, "vs", rows[2], "entered twice")
    return doctor, one, two


def test_calculated_items_are_in_the_datasets_the_json_and_the_snapshot(site, admin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doctor, one, two = _entered(site, admin)
    out = tmp_path / "export"
    doctor.export.export(out)
    dm = {r["SUBJID"]: r for r in _rows(out / "datasets" / "demographics__dm.csv")}
    assert dm[one]["BMI"] == "23.1"  # 63 / 1.65² = 23.14 -> 23.1, as the form shows it
    assert dm[two]["BMI"] == ""  # not computable without the height: blank, as on the form
    vs = [r for r in _rows(out / "datasets" / "vital_signs__vs.csv") if r["SUBJID"] == one]
    assert [(r["VSSYSBP"], r["VSMAP"]) for r in vs] == [("120", "93"), ("150", "110")]  # the removed row is not there
    data = json.loads((out / "datasets-json" / "demographics__dm.json").read_text(encoding="utf-8"))
    names = [c["name"] for c in data["columns"]]
    by_subject = {row[0]: dict(zip(names, row, strict=True)) for row in data["rows"]}
    assert by_subject[one]["BMI"] == "23.1" and by_subject[two]["BMI"] is None
    doc = etree.parse(str(out / "odm" / "snapshot.xml"))
    assert odm.validate(out / "odm" / "snapshot.xml") is None
    subject = doc.find(f".//o:SubjectData[@SubjectKey='{one}']", NS)
    assert subject.find(".//o:ItemData[@ItemOID='I.demographics.BMI']", NS).get("Value") == "23.1"
    maps = [e.get("Value") for e in subject.iterfind(".//o:ItemData[@ItemOID='I.vital_signs.VSMAP']", NS)]
    assert maps == ["93", "110"]
    other = doc.find(f".//o:SubjectData[@SubjectKey='{two}']", NS)
    assert other.find(".//o:ItemData[@ItemOID='I.demographics.BMI']", NS) is None
    ref = doc.find(".//o:ItemGroupDef[@OID='IG.demographics.dm']/o:ItemRef[@ItemOID='I.demographics.BMI']", NS)
    assert doc.find(f".//o:MethodDef[@OID='{ref.get('MethodOID')}']", NS).get("Type") == "Computation"


def test_a_deidentified_export_of_some_subjects_keeps_their_calculated_items(site, admin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doctor, one, _two = _entered(site, admin)
    out = tmp_path / "export-deid"
    doctor.export.export(out, ExportOptions(subjects=(one,), deidentified=True))
    dm = {r["SUBJID"]: r for r in _rows(out / "datasets" / "demographics__dm.csv")}
    assert list(dm) == [one] and dm[one]["BMI"] == "23.1"
    vs = _rows(out / "datasets" / "vital_signs__vs.csv")
    assert [r["VSMAP"] for r in vs] == ["93", "110"]
