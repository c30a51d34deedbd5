"""The study's outcomes and safety reviews on the TRAINING database, checked by hand against the demo stories
(services/demo_data.py), and their four renderings: data, text, CSV, signed PDF; the command line; who may see them.

Counts worked out by hand from the stories (today = 25/11/2026, the FakeClock's date):
- infused: cohort 1 = ABC, PLV; cohort 2 = DLM, MCL; cohort 4 = JPR, RGN (infused 5 days ago); SBE (screen
  failure) and HTG (in screening) are outside the cohorts.
- primary endpoint (grade >= 3, D0-D10): only JPR (fever grade 3, related): 0/2, 0/2, 1/1 with RGN pending.
- M0 SELENA-SLEDAI: ABC 12, PLV 10 | DLM 10, MCL 8 | JPR 10, RGN 12 -> medians 11, 9, 11; overall 10 (8-12).
- M3: SRI-4 responders ABC, PLV, DLM, MCL (4/4); MCR none (each keeps one system at B); PCR 4/4; steroids
  15 -> 11 mg/day (26.7 %) for the same four; PLV's lung infection (grade 3, not related, serious) on D60 is the
  only grade >= 3 of the M3 window; PLV's M3 review records an infection, a hospitalisation and a comorbidity.
- M6: MCR reached by ABC and PLV (all systems C or better), DLM overdue (pending), MCL withdrawn before M6.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from msc_sle_crf.cli import main
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.errors import PermissionDenied, ValidationError
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.pdf import sign
from msc_sle_crf.scoring.report_text import to_csv
from msc_sle_crf.scoring.summary import Column, Count, GradeCounts, Report, Row, Summary, Table
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.store.tables import AuditEvent

from .conftest import FAST_KDF


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outcomes") / "demo.crfdb"
    create_demo(path, kdf=FAST_KDF, clock=FakeClock()).close()
    return path


@pytest.fixture
def demo(demo_path: Path) -> Iterator[Site]:
    site = Site.open(demo_path, clock=FakeClock())
    yield site
    site.close()


@pytest.fixture
def doctor(demo: Site) -> Workspace:
    return Workspace.sign_in(demo, "dr.martin", "training-doctor")


def cells(report: Report, table: str, row: str) -> dict[str, object]:
    t = report.table(table)
    found = next(r for r in t.rows if r.key == row)
    return {c.key: cell for c, cell in zip(t.columns, found.cells, strict=True)}


# ----- the demo database, by hand -----------------------------------------------------------------------------------
def test_subjects_and_primary_endpoint_per_cohort(doctor: Workspace) -> None:
    report = doctor.outcomes.report()
    assert cells(report, "subjects", "infused") == {"1": 2, "2": 2, "4": 2, "all": 6}
    assert "2 subject(s)" in (report.table("subjects").note or L("", "")).en
    assert cells(report, "primary", "not_tolerated_all") == {
        "1": Count(0, 2), "2": Count(0, 2), "4": Count(1, 1, pending=1), "all": Count(1, 5, pending=1)}
    assert cells(report, "primary", "not_tolerated_related") == cells(report, "primary", "not_tolerated_all")
    assert cells(report, "subjects", "done_M6") == {"1": Count(2, 2), "2": Count(0, 1), "4": Count(0, 0),
                                                    "all": Count(2, 3)}


def test_baseline_sledai_medians_per_cohort(doctor: Workspace) -> None:
    sledai = cells(doctor.outcomes.report("M0"), "scores_M0", "selena_sledai")
    assert {k: (v.median, v.minimum, v.maximum, v.n) for k, v in sledai.items() if isinstance(v, Summary)} == {
        "1": (11, 10, 12, 2), "2": (9, 8, 10, 2), "4": (11, 10, 12, 2), "all": (10, 8, 12, 6)}
    assert sledai["all"].text(Lang.FR) == "10 (8–12), n = 6"  # type: ignore[union-attr]


def test_m3_responses_toxicity_and_comorbidities(doctor: Workspace) -> None:
    report = doctor.outcomes.report("M3")
    assert cells(report, "response_M3", "sri4") == {"1": Count(2, 2), "2": Count(2, 2), "4": Count(0, 0),
                                                    "all": Count(4, 4)}
    assert cells(report, "response_M3", "mcr")["all"] == Count(0, 4)
    assert cells(report, "response_M3", "pcr")["all"] == Count(4, 4)
    assert cells(report, "response_M3", "steroid_reduction")["all"] == Count(4, 4)
    any_soc = cells(report, "toxicity_M3", "any")
    assert any_soc["1"] == GradeCounts((0, 0, 1, 0, 0), 2)
    assert any_soc["2"] == GradeCounts((0, 0, 0, 0, 0), 2)
    assert any_soc["4"] == GradeCounts((0, 0, 0, 0, 0), 1, pending=1)  # JPR's M3 window is open; RGN's not begun
    assert cells(report, "toxicity_M3", "Infections and infestations")["1"] == GradeCounts((0, 0, 1, 0, 0), 2)
    assert cells(report, "toxicity_M3_related", "any")["1"] == GradeCounts((0, 1, 0, 0, 0), 2)  # fatigue, possibly
    assert cells(report, "toxicity_M3", "serious")["all"] == Count(1, 5, pending=1)
    assert cells(report, "comorbidities_M3", "hospitalisation") == {"1": Count(1, 2), "2": Count(0, 2),
                                                                    "4": Count(0, 0), "all": Count(1, 4)}
    assert cells(report, "completeness", "forms_M3")["1"] == Count(16, 16)


def test_m6_major_response_sustained_and_pending(doctor: Workspace) -> None:
    mcr = cells(doctor.outcomes.report("M6"), "response_M6", "mcr")
    assert mcr == {"1": Count(2, 2), "2": Count(0, 0, pending=1), "4": Count(0, 0), "all": Count(2, 2, pending=1)}
    missing = doctor.outcomes.report("M6").table("missing")
    assert {r.label.en for r in missing.rows} == {"99-002"}  # DLM, overdue at M6: every M6 score, with why
    assert {r.cells[3].en for r in missing.rows if isinstance(r.cells[3], L)} == {"form not started"}


def test_trajectories_and_grade_bars(doctor: Workspace) -> None:
    report = doctor.outcomes.report()
    abc = next(t for t in report.trajectories if t.subject == "99-001" and t.measure == "selena_sledai")
    assert [(v, m, y) for v, m, y in abc.points] == [("M0", 0, 12), ("M3", 3, 4), ("M6", 6, 2), ("M9", 9, 2),
                                                     ("M12", 12, 0)]
    assert {t.cohort for t in report.trajectories} == {"1", "2", "4"}
    bars = next(b for b in report.grade_bars if b.window == "D0_D10" and b.cohort == "4" and not b.related_only)
    assert bars.counts == (0, 0, 1, 1, 0, 0) and bars.pending == 1  # JPR grade 3; RGN grade 2 so far, window open
    bars = next(b for b in report.grade_bars if b.window == "D0_D10" and b.cohort == "all" and not b.related_only)
    assert bars.counts == (1, 3, 1, 1, 0, 0)  # MCL none; ABC, DLM, PLV grade 1; RGN 2; JPR 3


# ----- the safety review --------------------------------------------------------------------------------------------
def test_safety_review_ready_once_every_subject_is_past_d10(doctor: Workspace) -> None:
    ready = doctor.outcomes.safety_review("1")
    assert ready.ready and ready.waiting == ()
    assert [r.label.en for r in ready.table("safety_subjects").rows] == ["99-001", "99-007"]
    assert [r.cells[1] for r in ready.table("events").rows] == ["Headache", "Chills", "Nausea", "Fatigue",
                                                                  "Lung infection"]
    who = ready.table("who_M3")
    assert next(r for r in who.rows if r.key == "any").cells[:5] == (0, 0, 1, 0, 0)
    waiting = doctor.outcomes.safety_review("4")
    assert not waiting.ready
    assert "99-008" in waiting.waiting[0].en and "30/11/2026" in waiting.waiting[0].en
    with pytest.raises(ValidationError) as refused:
        doctor.outcomes.pdf(waiting)
    assert "cohort 4" in refused.value.message(Lang.EN) and "99-008" in refused.value.message(Lang.FR)


def test_signed_pdfs_of_the_reports(doctor: Workspace) -> None:
    cert_pem, _key = doctor.printing.certificate()
    for report, provisional in ((doctor.outcomes.safety_review("1"), False), (doctor.outcomes.report("M3"), False),
                                (doctor.outcomes.safety_review("4"), True)):
        pdf = doctor.outcomes.pdf(report, provisional=provisional, lang=Lang.FR)
        verdict = sign.verify(pdf, cert_pem)
        assert verdict.intact and verdict.trusted, verdict.summary
        assert sign.verify(pdf[:-200] + b"X" * 200, cert_pem).intact is False
        if shutil.which("pdftotext"):
            text = " ".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                                           check=True).stdout.decode().split())
            assert report.title.fr in text
            assert ("PROVISOIRE" in text) is provisional
            assert "Page 1 sur" in text


def test_csv_has_exact_values_and_every_cell(doctor: Workspace) -> None:
    report = doctor.outcomes.report("M0")
    rows = list(csv.DictReader(io.StringIO(doctor.outcomes.csv(report, Lang.EN).decode("utf-8-sig"))))
    provenance = rows.pop()  # the last row: the audit trail's head when the file was made (issue 14)
    assert provenance["report"] == "provenance" and provenance["text"].startswith("trail #")
    assert len(rows) == sum(len(t.rows) * len(t.columns) for t in report.tables)
    pga = next(r for r in rows if r["table"] == "scores_M0" and r["row"] == "pga" and r["column"] == "all")
    assert Decimal(pga["median"]) == Decimal("1.9") and pga["n"] == "6"
    tolerated = next(r for r in rows if r["row"] == "not_tolerated_all" and r["column"] == "all")
    assert (tolerated["n"], tolerated["of"], tolerated["pending"]) == ("1", "5", "1")
    assert Decimal(tolerated["value"]) == Decimal(20)


def test_csv_cells_cannot_run_as_spreadsheet_formulas() -> None:
    table = Table("t", L("=cmd|' /C calc'!A0", "x"), (Column("c", L("+1", "+1")),),
                  (Row("@r", L("-2+3", "-2+3"), (Count(1, 2),)),))
    text = to_csv(Report("outcomes", L("=HYPERLINK(\"http://x\")", "x"), L("", ""), (table,)), Lang.EN).decode()
    row = next(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert row["report"].startswith("'=") and row["table_title"].startswith("'=")
    assert row["row"] == "'@r" and row["row_label"] == "'-2+3" and row["column_label"] == "'+1"
    assert row["n"] == "1" and row["of"] == "2"  # numbers stay numbers


# ----- who may see them ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("user", "password"), [("nurse.durand", "training-nurse"), ("admin", "training-manager")])
def test_outcomes_are_for_investigators_and_monitors(demo: Site, user: str, password: str) -> None:
    ws = Workspace.sign_in(demo, user, password)
    with pytest.raises(PermissionDenied):
        ws.outcomes.report()
    with pytest.raises(PermissionDenied):
        ws.outcomes.safety_review("1")
    with demo.store.read() as session:
        refused = session.query(AuditEvent).filter(AuditEvent.username == user,
                                                   AuditEvent.action == "access_denied").count()
    assert refused >= 2


def test_monitor_sees_the_outcomes(demo: Site) -> None:
    monitor = Workspace.sign_in(demo, "monitor.petit", "training-monitor")
    assert cells(monitor.outcomes.report("M0"), "subjects", "infused")["all"] == 6


def test_unknown_visit_or_cohort_is_one_clear_line(doctor: Workspace) -> None:
    with pytest.raises(ValidationError) as visit:
        doctor.outcomes.report("M7")
    assert visit.value.message(Lang.FR) == ("Visite : « M7 » n'a pas de tableau de critères ; choisir parmi M0, M1, "
                                            "M3, M6, M9, M12.")
    with pytest.raises(ValidationError) as cohort:
        doctor.outcomes.safety_review("3")
    assert cohort.value.message(Lang.EN) == "Cohort: '3' is not a dose cohort of the study; choose one of 1, 2, 4."


# ----- the command line ---------------------------------------------------------------------------------------------
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str,
        password: str = "training-doctor") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    opened = Site.open.__func__  # type: ignore[attr-defined]
    # The command line on the demo's day (25/11/2026): the counts above depend on it.
    monkeypatch.setattr(Site, "open", classmethod(lambda cls, path, **kw: opened(cls, path, clock=FakeClock())))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_reports(demo_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    base = ("--db", str(demo_path), "--user", "dr.martin", "--password-stdin")
    code, out, _ = run(capsys, monkeypatch, "report", "safety", "--cohort", "1", *base)
    assert code == 0 and "Safety review, cohort 1 x10^6 cells/kg" in out and "Lung infection" in out
    code, out, _ = run(capsys, monkeypatch, "report", "outcomes", "--visit", "M3", "--lang", "fr", *base)
    assert code == 0 and "Critères à la visite « Mois 3 »" in out and "4/4 (100,0 %)" in out
    code, _, err = run(capsys, monkeypatch, "report", "safety", "--cohort", "4", "--out", str(tmp_path / "s.pdf"),
                       *base)
    assert code == 2 and "cannot be signed yet" in err and not (tmp_path / "s.pdf").exists()
    code, _, err = run(capsys, monkeypatch, "report", "safety", "--cohort", "4", "--provisional", "--out",
                       str(tmp_path / "s.pdf"), *base)
    assert code == 0 and (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    code, _, err = run(capsys, monkeypatch, "report", "outcomes", "--out", str(tmp_path / "all.csv"), *base)
    assert code == 0 and "CSV written" in err
    assert (tmp_path / "all.csv").read_bytes().startswith(b"\xef\xbb\xbfreport,table")
    code, _, err = run(capsys, monkeypatch, "report", "outcomes", "--format", "pdf", *base)
    assert code == 2 and err.strip() == "msc-sle-crf: --format pdf: give the file to write with --out."
    code, _, err = run(capsys, monkeypatch, "report", "outcomes", "--db", str(demo_path), "--user", "nurse.durand",
                       "--password-stdin", password="training-nurse")
    assert code == 4 and "may not view the study's outcomes" in err
    code, _, err = run(capsys, monkeypatch, "report", "safety", "--cohort", "x1", *base)
    assert code == 2 and "Traceback" not in err
    site = Site.open(demo_path)
    try:
        Workspace.sign_in(site, "dr.martin", "training-doctor")
        assert site.store is not None
        with site.store.read() as session:
            details = [e.detail or "" for e in session.query(AuditEvent).filter(AuditEvent.action == "print")]
    finally:
        site.close()
    assert any("Outcomes at every visit (csv) -> all.csv" in d for d in details)
    assert any("Safety review, cohort 4" in d and "s.pdf" in d for d in details)


# ----- kept while nothing changes, recomputed as soon as anything does --------------------------------------------
def test_outcomes_are_recomputed_after_a_write_and_reused_otherwise(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    site = create_demo(tmp_path / "d.crfdb", kdf=FAST_KDF, clock=FakeClock())
    try:
        doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
        loads = []
        load_all = doctor.overview.load_all
        monkeypatch.setattr(doctor.overview, "load_all", lambda session: loads.append(1) or load_all(session))
        before = cells(doctor.outcomes.report(), "primary", "not_tolerated_all")["4"]
        assert before == Count(1, 1, pending=1)
        doctor.outcomes.safety_review("4")
        doctor.outcomes.report("M3")
        assert len(loads) == 1  # one computation for the three views
        # A grade 3 hypotension on D3 for RGN (99-008): the cohort's answer changes at once.
        ae = doctor.study.bindings.adverse_events
        group = ae.group or ""
        onset = doctor.ctx.local_now().date() - dt.timedelta(days=2)
        doctor.entry.save_values(FormRef("99-008", ae.event or "", ae.form), {
            (group, 2, ae.term): "Hypotension", (group, 2, ae.grade): "3",
            (group, 2, ae.onset): onset.strftime("%d/%m/%Y"), (group, 2, ae.relation): "related",
            (group, 2, ae.serious): "Y"}, confirm=True)
        after = cells(doctor.outcomes.report(), "primary", "not_tolerated_all")["4"]
        assert after == Count(2, 2) and len(loads) == 2
    finally:
        site.close()


def test_a_report_never_replaces_the_database_or_an_existing_file(demo_path: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: '--out trial.crfdb' replaced the encrypted database by the CSV (atomic rename), losing the trial data.
    db = tmp_path / "copy.crfdb"
    shutil.copy(demo_path, db)
    shutil.copy(f"{demo_path}.keys", f"{db}.keys")
    original = db.read_bytes()
    base = ("--db", str(db), "--user", "dr.martin", "--password-stdin")
    code, _, err = run(capsys, monkeypatch, "report", "outcomes", "--format", "csv", "--out", str(db), *base)
    assert code == 2 and "already exists" in err and db.read_bytes() == original
    code, _, err = run(capsys, monkeypatch, "report", "outcomes", "--out", f"{db}-wal.csv", *base)
    assert code == 2 and "one of the site's files" in err and not Path(f"{db}-wal.csv").exists()
    site = Site.open(db, clock=FakeClock())
    try:
        doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
        report = doctor.outcomes.report("M0")
        for target in (db, Path(f"{db}.keys"), tmp_path / "sub" / ".." / "copy.crfdb"):
            with pytest.raises(ValidationError) as refused:
                doctor.outcomes.write(doctor.outcomes.csv(report), target, report, "csv")
            assert "Nothing was written" in refused.value.message(Lang.EN)
    finally:
        site.close()
    code, out, _ = run(capsys, monkeypatch, "report", "outcomes", "--visit", "M0", *base)
    assert code == 0 and "Outcomes at the visit “Inclusion (baseline)”" in out  # the database is intact and opens
    existing = tmp_path / "yesterday.pdf"
    existing.write_bytes(b"%PDF yesterday's signed review")
    code, _, err = run(capsys, monkeypatch, "report", "safety", "--cohort", "1", "--out", str(existing), *base)
    assert code == 2 and "already exists" in err and existing.read_bytes() == b"%PDF yesterday's signed review"
