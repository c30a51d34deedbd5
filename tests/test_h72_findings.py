"""h72 (the sponsor's statistician receives the export): one failing test per defect found reading the export of
the TRAINING database plus a signature, a missing value, a correction, an SDV mark and a query
(tests/helpers/demo_data.py), as a statistician loads it (csv, lxml)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.export import odm
from msc_sle_crf.services import Site, Workspace

from .helpers.demo_data import monitored_demo

NS = {"o": odm.NS}


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return monitored_demo(tmp_path_factory.mktemp("h72") / "demo.crfdb", missing_value=True)


@pytest.fixture(scope="module")
def doctor(demo_path: Path) -> Iterator[Workspace]:
    site = Site.open(demo_path, clock=FakeClock())
    try:
        yield Workspace.sign_in(site, "dr.martin", "training-doctor")
    finally:
        site.close()


@pytest.fixture(scope="module")
def exported(doctor: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("h72-out") / "export"
    doctor.export.export(out)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_creatinine_clearance_is_exported_as_the_form_shows_it(exported: Path) -> None:
    """README: calculated items are in the datasets "as the form shows them". The screening form shows the
    Cockcroft-Gault clearance with one decimal (item precision 1; 99-001: 40 years, 61.5 kg, 68 µmol/L, F ->
    94.385... shown 94.4); the export wrote 94.38541666666666666666666670 (28 digits, the last ones Decimal
    context noise), in the CSV, its Dataset-JSON copy and the ODM snapshot, whose ItemDef says SignificantDigits=1."""
    rows = {r["SUBJID"]: r for r in _rows(exported / "datasets" / "screening__exclusion.csv")}
    assert rows["99-001"]["CRCL"] == "94.4"
    doc = etree.parse(str(exported / "odm" / "snapshot.xml"))
    subject = doc.find(".//o:SubjectData[@SubjectKey='99-001']", NS)
    assert subject.find(".//o:ItemData[@ItemOID='I.screening.CRCL']", NS).get("Value") == "94.4"


def test_subject_status_in_subjects_csv_is_not_screening_for_subjects_the_app_shows_ended_or_followed(
        doctor: Workspace, exported: Path) -> None:
    """datasets/subjects.csv has STATUS "screening" for every subject of the TRAINING database: the subject
    followed to M12, the screening failure and the withdrawal included. The column is the stored ``subject.status``,
    written "screening" at registration and changed only by a subject lock/unlock; the subject list computes the
    stage shown to users (Screening / inclusion, Infused in follow-up, Ended) elsewhere. A statistician selecting
    the analysis population on STATUS gets nobody infused."""
    stage = {r.subject.subject_number: r.stage for r in doctor.overview.subject_rows()}
    status = {r["SUBJID"]: r["STATUS"] for r in _rows(exported / "datasets" / "subjects.csv")}
    assert {s for s, st in stage.items() if st != "screening"}  # the demo has infused and ended subjects
    wrong = {s: status[s] for s, st in stage.items() if st != "screening" and status[s] == "screening"}
    assert wrong == {}, f"shown as follow-up/ended in the app, exported as 'screening': {sorted(wrong)}"


def test_every_location_the_snapshot_names_is_defined_in_its_admin_data(exported: Path) -> None:
    """The snapshot's form Signature carries LocationRef LocationOID="LOC.unknown", which no Location in AdminData
    defines (the AdminData has the workstations of the trail, here LOC.<host>): a dangling OID that an ODM reader
    resolving references cannot follow; the signer's workstation is known (the sign audit record has it; the
    archival file's AuditRecord of the same signature says LOC.<host>)."""
    doc = etree.parse(str(exported / "odm" / "snapshot.xml"))
    defined = {e.get("OID") for e in doc.iterfind(".//o:AdminData/o:Location", NS)}
    named = [e.get("LocationOID") for e in doc.iterfind(".//o:LocationRef", NS)]
    assert named, "the demo has a signed form: its Signature names a location"
    assert [oid for oid in named if oid not in defined] == []


def test_the_key_variables_of_every_dataset_json_identify_one_row(exported: Path) -> None:
    """datasets-json/scores.json declares SUBJID and VISIT as its key variables (keySequence 1, 2) while it holds
    one row per subject, visit *and score* (selena_sledai, pga, bilag_total... for 99-001 M0): 357 rows, 35 keys
    (the TRAINING database as tests/helpers/demo_data.py leaves it). Any tool that trusts keySequence (a merge, a
    sort-and-dedupe, a define.xml) loses or mixes scores."""

    import json

    for path in sorted((exported / "datasets-json").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = [i for i, c in enumerate(data["columns"]) if "keySequence" in c]
        seen = [tuple(row[i] for i in keys) for row in data["rows"]]
        assert len(seen) == len(set(seen)), f"{path.name}: key {[data['columns'][i]['name'] for i in keys]}"


def test_a_value_entered_in_another_unit_is_not_read_as_the_canonical_unit_in_the_archival_file(
        site: Site, admin: Workspace, tmp_path: Path) -> None:
    """White cells typed as 4500 /mm3 (the form converts: 4.5 G/L, the dataset and the snapshot say 4.500). The
    archival ODM file writes that transaction as ItemData Value="4500" with no MeasurementUnitRef; the unit is only
    in a free-text Annotation ("entered in /mm3", flagged as an 'update' even for the first entry), and the
    ItemDef lists G/L alone. An ODM reader replaying the archival file gets 4500 G/L, a thousand times the value
    and above the item's own hard RangeCheck (500); the same for creatinine typed in mg/dL or haemoglobin in g/L."""
    from decimal import Decimal

    from msc_sle_crf.services.entry import FormRef
    from tests.conftest import make_user

    doctor = Workspace.sign_in(site, "dr.h72", make_user(admin, "dr.h72", "investigator"))
    subject = doctor.subjects.register("LMB", 1985, "F").subject.subject_number
    doctor.entry.save_item(FormRef(subject, "M0", "labs"), ("lb", 0, "WBC"), "4500", unit="/mm3")
    out = tmp_path / "export"
    doctor.export.export(out)
    snap = etree.parse(str(out / "odm" / "snapshot.xml"))
    shown = snap.find(f".//o:SubjectData[@SubjectKey='{subject}']//o:ItemData[@ItemOID='I.labs.WBC']", NS)
    assert Decimal(shown.get("Value")) == Decimal("4.5")
    archival = etree.parse(str(out / "odm" / "archival.xml"))
    entered = archival.find(f".//o:SubjectData[@SubjectKey='{subject}']//o:ItemData[@ItemOID='I.labs.WBC']", NS)
    unit_ref = entered.find("o:MeasurementUnitRef", NS)
    assert Decimal(entered.get("Value")) == Decimal("4.5") or unit_ref is not None, (
        f"archival Value {entered.get('Value')} with no unit: read as G/L")


def test_a_deidentified_export_holds_no_full_name(doctor: Workspace, exported: Path,
                                                  tmp_path: Path) -> None:
    """README: "A de-identified export leaves out initials and full names" (the ODM AdminData drops FullName). Its
    audit_trail.csv still carries every account's full name in the user_add records' new value
    ({"username": "dr.martin", "full_name": "Dr Claire Martin (formation)", ...}); redaction (export/odm.py redact)
    only removes the subject's initials and cuts the year-only dates."""
    from msc_sle_crf.export import ExportOptions

    full = etree.parse(str(exported / "odm" / "snapshot.xml"))
    names = {e.text for e in full.iterfind(".//o:AdminData/o:User/o:FullName", NS) if e.text}
    assert "Dr Claire Martin (formation)" in names
    out = tmp_path / "export-deid"
    doctor.export.export(out, ExportOptions(deidentified=True))
    trail = (out / "audit_trail.csv").read_text(encoding="utf-8-sig")
    assert sorted(n for n in names if n in trail) == []


def test_a_converted_value_has_no_more_decimals_than_its_item_def_declares(site: Site, admin: Workspace,
                                                                          tmp_path: Path) -> None:
    """Creatinine typed 0,9 mg/dL is stored and exported as 79.56 µmol/L while the item (precision 1) is declared
    in the ODM ItemDef with SignificantDigits="1" (the same for 4500 /mm3 -> 4.500 G/L with SignificantDigits 2,
    56,6 mg/mmol -> 0.500344 g/g with 2). A reader taking the metadata at its word (a SAS format, a define.xml
    check) rounds or rejects the value; the codebook has no precision column to tell which is right."""
    from msc_sle_crf.services.entry import FormRef
    from tests.conftest import make_user

    doctor = Workspace.sign_in(site, "dr.h72", make_user(admin, "dr.h72", "investigator"))
    subject = doctor.subjects.register("LMB", 1985, "F").subject.subject_number
    doctor.entry.save_item(FormRef(subject, "M0", "labs"), ("lb", 0, "CREAT"), "0,9", unit="mg/dL")
    out = tmp_path / "export"
    doctor.export.export(out)
    snap = etree.parse(str(out / "odm" / "snapshot.xml"))
    declared = int(snap.find(".//o:ItemDef[@OID='I.labs.CREAT']", NS).get("SignificantDigits"))
    value = snap.find(f".//o:SubjectData[@SubjectKey='{subject}']//o:ItemData[@ItemOID='I.labs.CREAT']",
                      NS).get("Value")
    decimals = len(value.partition(".")[2])
    assert decimals <= declared, f"Value {value} has {decimals} decimals, its ItemDef declares {declared}"


def test_creatinine_in_mg_dl_takes_the_two_decimals_labs_report(site: Site, admin: Workspace) -> None:
    """Serum creatinine typed in its alternative unit, as French and US labs print it: 0,77 mg/dL (= 68.1 µmol/L).
    Refused with "at most 1 decimal place(s)": the item's precision (1, for µmol/L) is applied to the number typed
    in mg/dL, where one decimal is a 6-13 % step in the normal range. The site must round to 0,8 mg/dL (70.7
    µmol/L, Cockcroft-Gault 4 % lower) or convert by hand; the message names neither way out."""
    from msc_sle_crf.services.entry import FormRef
    from tests.conftest import make_user

    doctor = Workspace.sign_in(site, "dr.h72", make_user(admin, "dr.h72", "investigator"))
    subject = doctor.subjects.register("LMB", 1985, "F").subject.subject_number
    ref = FormRef(subject, "M0", "labs")
    doctor.entry.save_item(ref, ("lb", 0, "CREAT"), "0,77", unit="mg/dL")
    from decimal import Decimal

    stored = doctor.entry.open_form(ref).state.canonical(("lb", 0, "CREAT"))  # kept as typed (0.77 mg/dL)
    assert abs(Decimal(stored) - Decimal("68.068")) < Decimal("0.1")


def test_the_codebook_decodes_the_missing_value_codes(exported: Path) -> None:
    """Every coded variable of codebook.csv lists its codes as code=label ("F=Female; M=Male"), except the
    missing-code columns (<ITEM>_MISS), which list bare codes ("ND", "UNK", "ND; UNK"): what ND means is only in
    the ODM snapshot's CL.NULLFLAVOR; the codebook a statistician opens first leaves it to a guess."""
    rows = _rows(exported / "codebook.csv")
    undecoded = {r["codes"] for r in rows if r["variable"].endswith("_MISS")
                 and any("=" not in code for code in r["codes"].split("; "))}
    assert undecoded == set()


def test_dataset_json_oids_resolve_in_the_metadata_file_it_references(exported: Path) -> None:
    """Every Dataset-JSON file names its metadata (metaDataRef "../odm/snapshot.xml") but none of its OIDs is in
    that file: itemGroupOID "IG.labs__lb" where the snapshot has ItemGroupDef "IG.labs.lb", column itemOID
    "IT.labs__lb.HGB" where it has ItemDef "I.labs.HGB" (41 of 41 datasets, 480 of 480 columns unresolved). A
    Dataset-JSON reader that follows metaDataRef for units, code lists and ranges finds nothing."""
    import json

    data = json.loads((exported / "datasets-json" / "labs__lb.json").read_text(encoding="utf-8"))
    meta = etree.parse(str((exported / "datasets-json" / data["metaDataRef"]).resolve()))
    groups = {e.get("OID") for e in meta.iterfind(".//o:ItemGroupDef", NS)}
    items = {e.get("OID") for e in meta.iterfind(".//o:ItemDef", NS)}
    hgb = next(c for c in data["columns"] if c["name"] == "HGB")
    assert (data["itemGroupOID"] in groups, hgb["itemOID"] in items) == (True, True)


def test_the_r_import_keeps_the_dose_cohort_codes(exported: Path) -> None:
    """import.R turns every coded column into a factor whose levels are the labels, beside the _LBL column that
    already holds those labels: in R the codes are gone. For the dose cohort (codes 1, 2, 4 = x10^6 cells/kg)
    as.numeric(COHORT) gives 1, 2, 3 - the 4 x10^6 cohort becomes 3 - and no column of crf$dose_cohort__dose
    still holds "4". A dose-response model on the R import gets the top dose wrong."""
    import shutil
    import subprocess

    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript is not installed (Debian package r-base-core, in packaging/apt-packages.txt)")
    code = ('source("import.R"); d <- crf[["dose_cohort__dose"]]; '
            'cat(any(sapply(d, function(x) any(as.character(x) == "4", na.rm = TRUE))), "\\n")')
    done = subprocess.run([rscript, "-e", code], cwd=exported, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["TRUE"], "the code 4 of the dose cohort is in no column of the R data frame"


def test_the_datasets_do_not_depend_on_the_exporting_users_language(doctor: Workspace, tmp_path: Path) -> None:
    """The _LBL columns are written in the language of the session that exports: the same database exported in
    French has AESER_LBL "Non", AEREL_LBL "Possiblement lié", ETHNIC_LBL "Non recueilli (loi française)" where the
    English export has "No", "Possibly related", "Not reported (French law)"; nothing in the manifest or the
    codebook says which language a file is in. Two sites' exports pooled by the sponsor (README) mix languages in
    one column, and the hub's export differs from the site's by who ran it."""
    from msc_sle_crf.i18n import Lang, current_lang, set_lang

    before = current_lang()
    texts = {}
    try:
        for lang in (Lang.EN, Lang.FR):
            set_lang(lang)
            out = tmp_path / f"export-{lang.value}"
            doctor.export.export(out)
            texts[lang] = (out / "datasets" / "adverse_events__ae.csv").read_text(encoding="utf-8-sig")
    finally:
        set_lang(before)
    assert texts[Lang.FR] == texts[Lang.EN]
