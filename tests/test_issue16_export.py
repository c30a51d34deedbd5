"""Issue 16: data out. CDISC ODM 1.3.2 snapshot and archival files valid against the official schema and readable
by an independent reader (odmlib), every clinical audit record once in the archival file, analysis datasets with a
codebook and working R script, the whole trail as CSV, a signed manifest that export-verify checks, and bad input
(existing or unwritable target, cancel, full disk) that leaves nothing under the target name."""

from __future__ import annotations

import base64
import csv
import errno
import io
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import PermissionDenied, StoreError, ValidationError
from msc_sle_crf.export import Cancelled, ExportOptions, odm
from msc_sle_crf.export import manifest as mf
from msc_sle_crf.services import Site, Workspace

from .helpers.demo_data import monitored_demo

REFERENCE_XSD = Path("/work/shared/reference/odm-1.3.2")
NS = {"o": odm.NS}


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TRAINING database plus what the demo lacks: a missing value (not done), a change with a reason, a
    signature, an SDV mark and a query answered."""
    return monitored_demo(tmp_path_factory.mktemp("export") / "demo.crfdb", missing_value=True)


@pytest.fixture
def doctor(demo_path: Path) -> Iterator[Workspace]:
    site = Site.open(demo_path, clock=FakeClock())
    try:
        yield Workspace.sign_in(site, "dr.martin", "training-doctor")
    finally:
        site.close()


@pytest.fixture(scope="module")
def exported(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = Site.open(demo_path, clock=FakeClock())
    try:
        ws = Workspace.sign_in(site, "dr.martin", "training-doctor")
        out = tmp_path_factory.mktemp("out") / "export-full"
        ws.export.export(out)
    finally:
        site.close()
    return out


def schema() -> etree.XMLSchema:
    folder = REFERENCE_XSD if (REFERENCE_XSD / "ODM1-3-2.xsd").is_file() else odm.schema_dir()
    return etree.XMLSchema(etree.parse(str(folder / "ODM1-3-2.xsd")))


def test_the_shipped_schema_is_the_official_one() -> None:
    if not REFERENCE_XSD.is_dir():
        pytest.skip("the reference copy is not on this machine")
    for name in ("ODM1-3-2.xsd", "ODM1-3-2-foundation.xsd", "xml.xsd", "xmldsig-core-schema.xsd", "xlink.xsd"):
        assert (odm.schema_dir() / name).read_bytes() == (REFERENCE_XSD / name).read_bytes(), name


@pytest.mark.parametrize("name", ["snapshot.xml", "archival.xml"])
def test_both_odm_files_are_valid_against_the_official_schema(exported: Path, name: str) -> None:
    doc = etree.parse(str(exported / "odm" / name))
    xsd = schema()
    assert xsd.validate(doc), xsd.error_log.last_error
    namespaces = {el.tag.split("}")[0].lstrip("{") for el in doc.iter() if isinstance(el.tag, str)}
    assert namespaces == {odm.NS}, "no vendor namespace"
    attrs = {a for el in doc.iter() if isinstance(el.tag, str) for a in el.attrib if a.startswith("{")}
    assert attrs <= {"{http://www.w3.org/XML/1998/namespace}lang"}


def test_an_invalid_file_is_caught_by_the_validation(tmp_path: Path, exported: Path) -> None:
    bad = tmp_path / "bad.xml"
    text = (exported / "odm" / "snapshot.xml").read_text(encoding="utf-8")
    bad.write_text(text.replace('ItemGroupRepeatKey="2"', 'ItemGroupRepeatKey=""', 1), encoding="utf-8")
    assert odm.validate(bad) is not None
    assert odm.validate(exported / "odm" / "snapshot.xml") is None


def test_odmlib_reads_both_files(exported: Path) -> None:
    from odmlib import loader, odm_loader

    reader = loader.ODMLoader(odm_loader.XMLODMLoader(model_package="odm_1_3_2", ns_uri=odm.NS))
    reader.open_odm_document(str(exported / "odm" / "snapshot.xml"))
    snap = reader.load_odm()
    assert snap.FileType == "Snapshot"
    clinical = snap.ClinicalData[0] if isinstance(snap.ClinicalData, list) else snap.ClinicalData
    assert sorted(s.SubjectKey for s in clinical.SubjectData)[:2] == ["99-001", "99-002"]
    study = snap.Study[0] if isinstance(snap.Study, list) else snap.Study
    mdv = study.MetaDataVersion[0] if isinstance(study.MetaDataVersion, list) else study.MetaDataVersion
    assert any(i.OID == "I.labs.HGB" and i.DataType == "float" for i in mdv.ItemDef)
    reader.open_odm_document(str(exported / "odm" / "archival.xml"))
    arch = reader.load_odm()
    assert arch.FileType == "Transactional" and arch.Archival == "Yes"


def test_every_clinical_audit_record_appears_once_in_the_archival_file(exported: Path, doctor: Workspace) -> None:
    conn = doctor.ctx.store.raw_connection()
    try:
        head = int(json.loads((exported / mf.MANIFEST).read_text())["trail_head"]["record_id"])
        expected = {int(r[0]): r[1] for r in conn.execute(
            "SELECT id, hash FROM audit_event WHERE subject IS NOT NULL AND id <= ?", (head,))}
    finally:
        conn.close()
    seen = Counter()
    for source_id in odm.iter_source_ids(exported / "odm" / "archival.xml"):
        m = re.fullmatch(r"audit_event#(\d+) sha256:([0-9a-f]{64})", source_id)
        assert m, source_id
        assert expected[int(m.group(1))] == m.group(2)
        seen[int(m.group(1))] += 1
    assert set(seen) == set(expected)
    assert max(seen.values()) == 1
    assert len(expected) > 3000


def _subject(doc: etree._ElementTree, key: str) -> etree._Element:
    found = doc.find(f".//o:SubjectData[@SubjectKey='{key}']", NS)
    assert found is not None
    return found


def test_snapshot_holds_current_values_missing_codes_and_signatures(exported: Path) -> None:
    doc = etree.parse(str(exported / "odm" / "snapshot.xml"))
    s = _subject(doc, "99-001")
    m12 = s.find("o:StudyEventData[@StudyEventOID='SE.M12']", NS)
    labs = m12.find("o:FormData[@FormOID='F.labs']", NS)
    plat = labs.find(".//o:ItemData[@ItemOID='I.labs.PLAT']", NS)
    assert plat.get("Value") == "231"
    crp = labs.find(".//o:ItemData[@ItemOID='I.labs.CRP']", NS)
    assert crp.get("IsNull") == "Yes" and crp.get("Value") is None
    assert crp.find(".//o:FlagValue", NS).text == "ND"
    assert crp.find(".//o:FlagValue", NS).get("CodeListOID") == odm.NULL_FLAVOR
    assert crp.find(".//o:Comment", NS).text == "sample haemolysed"
    sledai = m12.find("o:FormData[@FormOID='F.selena_sledai']", NS)
    sig = sledai.find("o:Signature", NS)
    assert sig.find("o:SignatureRef", NS).get("SignatureOID") == "SD.approval"
    assert sig.find("o:UserRef", NS).get("UserOID") == "U.dr.martin"
    assert re.search(r"[+-]\d\d:\d\d$", sig.find("o:DateTimeStamp", NS).text)
    assert doc.find(".//o:SignatureDef[@OID='SD.approval']", NS) is not None
    ig = doc.find(".//o:ItemGroupDef[@OID='IG.vital_signs.vs']", NS)
    assert ig.get("Repeating") == "Yes"
    for group in doc.iterfind(".//o:ItemGroupData[@ItemGroupOID='IG.vital_signs.vs']", NS):
        assert group.get("ItemGroupRepeatKey"), "a repeating group always has a repeat key"
    temp = doc.find(".//o:ItemDef[@OID='I.vital_signs.VSTEMP']", NS)
    assert {t.get("{http://www.w3.org/XML/1998/namespace}lang") for t in temp.iterfind(".//o:TranslatedText", NS)} \
        == {"en", "fr"}
    assert {(r.get("SoftHard"), r.get("Comparator")) for r in temp.iterfind("o:RangeCheck", NS)} >= {
        ("Hard", "GE"), ("Soft", "LE")}


def test_archival_transactions_carry_who_where_when_why_and_monitoring(exported: Path) -> None:
    doc = etree.parse(str(exported / "odm" / "archival.xml"))
    root = doc.getroot()
    assert root.get("FileType") == "Transactional" and root.get("Archival") == "Yes"
    changes = [el for el in doc.iterfind(".//o:ItemData[@ItemOID='I.labs.PLAT']", NS)
               if el.get("Value") == "231"]
    assert len(changes) == 1
    change = changes[0]
    assert change.get("TransactionType") == "Update"
    audit = change.find("o:AuditRecord", NS)
    assert audit.find("o:ReasonForChange", NS).text == "transcription error"
    assert audit.find("o:UserRef", NS).get("UserOID") == "U.dr.martin"
    assert audit.find("o:LocationRef", NS).get("LocationOID").startswith("LOC.")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d",
                        audit.find("o:DateTimeStamp", NS).text)
    flags = [f.text for f in doc.iterfind(".//o:FlagValue[@CodeListOID='CL.SDV']", NS)]
    assert flags == ["verified"]
    queries = [f.text for f in doc.iterfind(".//o:FlagValue[@CodeListOID='CL.QUERYSTATUS']", NS)]
    assert "open" in queries and "answered" in queries
    signed = doc.find(".//o:FlagValue[@CodeListOID='CL.FORMSTATUS']", NS)
    assert signed is not None
    assert doc.find(".//o:AdminData/o:User[@OID='U.monitor.petit']", NS) is not None


def _rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_datasets_codebook_and_scores(exported: Path) -> None:
    labs = _rows(exported / "datasets" / "labs__lb.csv")
    m12 = next(r for r in labs if r["SUBJID"] == "99-001" and r["VISIT"] == "M12")
    assert m12["PLAT"] == "231" and m12["CRP"] == "" and m12["CRP_MISS"] == "ND"
    vitals = _rows(exported / "datasets" / "vital_signs__vs.csv")
    assert all(r["ROW"].isdigit() and int(r["ROW"]) >= 1 for r in vitals)
    assert any("." in r["VSTEMP"] for r in vitals if r["VSTEMP"]), "decimal point"
    subjects = _rows(exported / "datasets" / "subjects.csv")
    assert len(subjects) == 8 and "INITIALS" in subjects[0]
    scores = _rows(exported / "datasets" / "scores.csv")
    sledai = [r for r in scores if r["SUBJID"] == "99-001" and r["SCORE"] == "selena_sledai"]
    assert sledai and all(r["RULE"] for r in sledai)
    codebook = _rows(exported / "codebook.csv")
    hgb = next(r for r in codebook if r["dataset"] == "labs__lb" and r["variable"] == "HGB")
    assert hgb["unit"] and hgb["label_fr"] and hgb["type"] == "float"
    sex = next(r for r in codebook if r["dataset"] == "subjects" and r["variable"] == "SEX")
    assert "F=Female" in sex["codes"]
    assert "<table>" in (exported / "codebook.html").read_text(encoding="utf-8")
    assert "proc format" in (exported / "import.sas").read_text(encoding="utf-8")


def test_the_audit_trail_csv_holds_every_record(exported: Path, doctor: Workspace) -> None:
    trail = _rows(exported / "audit_trail.csv")
    body = [r for r in trail if not r["record_id"].startswith("#")]
    head = json.loads((exported / mf.MANIFEST).read_text())["trail_head"]
    assert [int(r["record_id"]) for r in body] == list(range(1, head["record_id"] + 1))
    assert body[-1]["hash"] == head["record_hash"]
    assert re.search(r"[+-]\d\d:\d\d$", body[0]["time_local"])
    change = next(r for r in body if r["reason"] == "transcription error")
    assert change["old_value"] == "230" and change["new_value"] == "231" and change["user"] == "dr.martin"
    assert trail[-1]["record_id"] == f"# trail #{head['record_id']} {head['record_hash']}"


def test_the_export_is_audited_and_serves_as_a_receipt(exported: Path, doctor: Workspace) -> None:
    from msc_sle_crf.services import receipts

    conn = doctor.ctx.store.raw_connection()
    try:
        rows = conn.execute("SELECT new_value, detail FROM audit_event WHERE action = 'export'").fetchall()
    finally:
        conn.close()
    digest = __import__("hashlib").sha256((exported / mf.MANIFEST).read_bytes()).hexdigest()
    assert any(digest in (r[0] or "") and "8 subject(s)" in (r[1] or "") for r in rows)
    head = receipts.load(exported / mf.MANIFEST)
    assert head.record_id > 3000 and head.db_id == doctor.site.keyfile.db_id


def _fingerprint(folder: Path) -> str:
    return str(json.loads((folder / mf.SIGNATURE).read_text())["ca_fingerprint"])


def test_export_verify_detects_changed_added_removed_files(exported: Path, tmp_path: Path) -> None:
    fp = _fingerprint(exported)
    assert mf.verify(exported, fp).ok
    for damage, expected in ((lambda d: (d / "datasets" / "labs__lb.csv").write_text("x"), "file changed"),
                             (lambda d: (d / "notes.txt").write_text("x"), "file added"),
                             (lambda d: (d / "odm" / "archival.xml").unlink(), "file removed")):
        copy = tmp_path / f"c{len(list(tmp_path.iterdir()))}"
        shutil.copytree(exported, copy)
        damage(copy)
        verdict = mf.verify(copy, fp)
        assert not verdict.ok and any(expected in p for p in verdict.problems), verdict.problems


def test_export_verify_detects_a_forged_manifest(exported: Path, tmp_path: Path) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import ec

    from msc_sle_crf.security import ca
    from msc_sle_crf.security.personal import PersonalKeys, Signer

    fp = _fingerprint(exported)
    # 1. a file changed and its hash updated in the manifest: the signature no longer holds
    copy = tmp_path / "edited"
    shutil.copytree(exported, copy)
    (copy / "datasets" / "labs__lb.csv").write_text("forged")
    doc = json.loads((copy / mf.MANIFEST).read_text())
    doc["files"]["datasets/labs__lb.csv"]["sha256"] = mf.sha256_file(copy / "datasets" / "labs__lb.csv")
    (copy / mf.MANIFEST).write_bytes(mf.manifest_bytes(doc))
    verdict = mf.verify(copy, fp)
    assert any("signature does not hold" in p for p in verdict.problems)
    # 2. ... and re-signed by a made-up CA and certificate in the same name: not the pinned site CA
    ca_pem, ca_key = ca.new_ca("Forged site", "0" * 32, dt.datetime.now(dt.UTC))
    keys = PersonalKeys.generate()
    from cryptography.hazmat.primitives import serialization

    der = keys.pdf.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    cert, _serial = ca.issue(ca_key, ca_pem, der, username="dr.martin", full_name="Dr Claire Martin",
                             role="investigator", site_name="Forged site", now=dt.datetime.now(dt.UTC))
    signer = Signer("dr.martin", keys)
    doc["trail_head"]["signing_key"] = base64.b64encode(signer.public.sign).decode()
    data = mf.manifest_bytes(doc)
    (copy / mf.MANIFEST).write_bytes(data)
    (copy / mf.SIGNATURE).write_bytes(mf.sign_manifest(data, pdf_key=keys.pdf, cert_pem=cert, ca_pem=ca_pem,
                                                       ed_signer=signer))
    assert isinstance(keys.pdf, ec.EllipticCurvePrivateKey)
    verdict = mf.verify(copy, fp)
    assert not verdict.ok and any("does not chain to the pinned site CA" in p for p in verdict.problems)
    assert mf.verify(copy, ca.fingerprint(ca_pem)).ok, "only the pin tells them apart"


def test_cli_export_and_export_verify(demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from msc_sle_crf.cli import main

    out = tmp_path / "cli-export"
    monkeypatch.setattr("sys.stdin", io.StringIO("training-monitor\n"))
    assert main(["export", "--db", str(demo_path), "--user", "monitor.petit", "--password-stdin", "--out", str(out),
                 "--subject", "99-001", "--deidentified", "--no-audit-trail"]) == 0
    assert "Export written" in capsys.readouterr().out
    assert not (out / "audit_trail.csv").exists() and not (out / "odm" / "archival.xml").exists()
    subjects = _rows(out / "datasets" / "subjects.csv")
    assert [s["SUBJID"] for s in subjects] == ["99-001"] and "INITIALS" not in subjects[0]
    demog = _rows(out / "datasets" / "demographics__dm.csv")
    assert all(len(r["BRTHDAT"]) == 4 for r in demog), "year of birth only"
    assert b"ABC" not in (out / "odm" / "snapshot.xml").read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO("training-monitor\n"))
    assert main(["export-verify", str(out), "--db", str(demo_path), "--user", "monitor.petit",
                 "--password-stdin"]) == 0
    assert ": OK:" in capsys.readouterr().out
    (out / "datasets" / "subjects.csv").write_text("tampered")
    assert main(["export-verify", str(out), "--fingerprint", _fingerprint(out)]) == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "file changed: datasets/subjects.csv" in err


def test_an_archival_export_of_some_subjects_holds_only_theirs(doctor: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "one"
    result = doctor.export.export(out, ExportOptions(subjects=("99-002",), deidentified=True))
    keys = {el.get("SubjectKey") for el in etree.parse(str(out / "odm" / "archival.xml")).iterfind(
        ".//o:SubjectData", NS)}
    assert keys == {"99-002"} and result.archival_records > 0
    text = (out / "odm" / "archival.xml").read_text(encoding="utf-8")
    assert '"initials"' not in text and "Claire Martin" not in text
    with pytest.raises(ValidationError, match="No subject numbered"):
        doctor.export.export(tmp_path / "none", ExportOptions(subjects=("77-777",)))
    assert not (tmp_path / "none").exists()


# ----- bad input: nothing half-written under the target name ---------------------------------------------------------
def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_an_existing_target_is_refused(doctor: Workspace, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(ValidationError, match="already exists"):
        doctor.export.export(tmp_path / "taken")
    assert _leftovers(tmp_path) == ["taken"] and not list((tmp_path / "taken").iterdir())


def test_an_unwritable_folder_is_refused(doctor: Workspace, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        with pytest.raises(ValidationError, match="does not exist"):
            doctor.export.export(tmp_path / "missing" / "x")
        return
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    with pytest.raises(StoreError, match="not writable"):
        doctor.export.export(locked / "x")


def test_a_cancelled_export_leaves_nothing(doctor: Workspace, tmp_path: Path) -> None:
    calls = []

    def progress(done: int, total: int, _what: object) -> None:
        calls.append((done, total))

    with pytest.raises(Cancelled):
        doctor.export.export(tmp_path / "x", progress=progress, cancelled=lambda: len(calls) > 5)
    assert _leftovers(tmp_path) == []


def test_a_full_disk_leaves_nothing_and_says_so(doctor: Workspace, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_sle_crf.export import datasets

    real = datasets.write_codebook

    def full(*args: object, **kwargs: object) -> None:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(datasets, "write_codebook", full)
    with pytest.raises(StoreError) as caught:
        doctor.export.export(tmp_path / "x")
    assert "No space left on device" in caught.value.message() and "\n" not in caught.value.message()
    assert _leftovers(tmp_path) == []


def test_roles_come_from_study_yaml(demo_path: Path, tmp_path: Path) -> None:
    site = Site.open(demo_path, clock=FakeClock())
    try:
        nurse = Workspace.sign_in(site, "nurse.durand", "training-nurse")
        assert not nurse.export.allowed()
        with pytest.raises(PermissionDenied):
            nurse.export.export(tmp_path / "x")
        assert not (tmp_path / "x").exists()
        conn = site.store.raw_connection()  # type: ignore[union-attr]
        try:
            last = conn.execute("SELECT action, username FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            conn.close()
        assert tuple(last) == ("access_denied", "nurse.durand")
    finally:
        site.close()


def test_the_r_script_reads_the_datasets_with_labels(exported: Path) -> None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript is not installed (Debian package r-base-core, in packaging/apt-packages.txt)")
    code = ('crf_dir <- "datasets"; source("import.R"); d <- crf[["labs__lb"]]; '
            'stopifnot(is.numeric(d$HGB), inherits(d$LBDAT, "Date")); '
            'cat(attr(d$HGB, "label"), "\\n"); cat(names(attr(crf[["subjects"]]$SEX, "labels")), "\\n"); '
            'cat(nrow(crf[["vital_signs__vs"]]) > 0, "\\n")')
    done = subprocess.run([rscript, "-e", code], cwd=exported, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert lines[0].startswith("Haemoglobin [") and lines[1] == "Female Male" and lines[2] == "TRUE"


def test_dataset_json_holds_the_same_rows(exported: Path) -> None:
    data = json.loads((exported / "datasets-json" / "labs__lb.json").read_text(encoding="utf-8"))
    assert data["datasetJSONVersion"] == "1.1.0" and data["records"] == len(data["rows"])
    names = [c["name"] for c in data["columns"]]
    rows = _rows(exported / "datasets" / "labs__lb.csv")
    assert names == list(rows[0])
    assert len(data["rows"]) == len(rows)
    first = dict(zip(names, data["rows"][0], strict=True))
    assert first["HGB"] == rows[0]["HGB"] and first["HGB_MISS"] is None
    hgb = next(c for c in data["columns"] if c["name"] == "HGB")
    assert hgb["dataType"] == "decimal" and hgb["targetDataType"] == "decimal"


def test_an_administrator_exports_with_a_verifiable_manifest(demo_path: Path, tmp_path: Path) -> None:
    site = Site.open(demo_path, clock=FakeClock())
    try:
        admin = Workspace.sign_in(site, "admin", "training-manager")
        result = admin.export.export(tmp_path / "admin", ExportOptions(audit_trail=False))
        fingerprint = admin.printing.ca_fingerprint()
    finally:
        site.close()
    verdict = mf.verify(result.folder, fingerprint)
    assert verdict.ok and verdict.signer == "admin", verdict.problems
