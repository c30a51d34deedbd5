"""The outcomes window on the TRAINING database: computed off the UI thread, tables per cohort, the safety review's
readiness deciding what can be printed, plots, a signed PDF and a CSV written, refusals shown inline, French."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from msc_sle_crf.audit import Action
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.pdf import sign
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.changes import Change, Changes
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.outcomes import OutcomesWindow, open_outcomes

from .conftest import FAST_KDF


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outcomes-ui") / "demo.crfdb"
    create_demo(path, kdf=FAST_KDF, clock=FakeClock()).close()
    return path


@pytest.fixture
def demo(demo_path: Path) -> Iterator[Site]:
    site = Site.open(demo_path, clock=FakeClock())
    yield site
    site.close()


def opened(qtbot, ws: Workspace, ops: Ops | None = None) -> OutcomesWindow:
    window = OutcomesWindow(ws, ops=ops)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.loading == 0, timeout=15000)
    return window


def test_tables_per_cohort_computed_off_the_ui_thread(qtbot, demo: Site) -> None:
    window = opened(qtbot, Workspace.sign_in(demo, "dr.martin", "training-doctor"))
    assert window.report is not None and window.error is None
    primary = window.outcome_tables.tables["primary"]
    assert primary.grid.horizontalHeaderItem(3).text() == "4 x10^6 cells/kg (n = 2)"
    assert primary.text(0, 3) == "1/1 (100.0 %) · 1 pending"
    assert "completeness" not in window.outcome_tables.tables
    assert "missing" in window.completeness_tables.tables
    window.visit.setCurrentIndex(window.visit.findData("M3"))
    qtbot.waitUntil(lambda: window.loading == 0 and window.report is not None and window.report.visits == ("M3",),
                    timeout=15000)
    sri = window.outcome_tables.tables["response_M3"]
    assert sri.text(next(r for r in range(sri.grid.rowCount()) if sri.text(r, 0).startswith("SRI-4")), 4) == \
        "4/4 (100.0 %)"
    any_soc = window.outcome_tables.tables["toxicity_M3"]
    assert any_soc.grid.item(0, 1).foreground().color().name() == "#b00020"  # a grade >= 3 in cohort 1


def test_safety_review_readiness_decides_what_can_be_printed(qtbot, demo: Site, tmp_path: Path) -> None:
    ws = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    window = opened(qtbot, ws)
    window.cohort.setCurrentIndex(window.cohort.findData("4"))
    qtbot.waitUntil(lambda: window.loading == 0 and window.safety is not None and window.safety.cohort == "4",
                    timeout=15000)
    assert not window.safety_pdf.isEnabled() and not window.safety_provisional.isHidden()
    assert "99-008" in window.readiness.text() and "30/11/2026" in window.readiness.text()
    window.cohort.setCurrentIndex(window.cohort.findData("1"))
    qtbot.waitUntil(lambda: window.loading == 0 and window.safety is not None and window.safety.cohort == "1",
                    timeout=15000)
    assert window.safety_pdf.isEnabled() and window.safety_provisional.isHidden()
    events = window.safety_tables.tables["events"]
    assert events.grid.rowCount() == 5
    target = tmp_path / "review.pdf"
    window.print_pdf(window.safety, target)
    qtbot.waitUntil(lambda: window.last_written == target, timeout=30000)
    cert, _key = ws.printing.certificate()
    assert sign.verify(target.read_bytes(), cert).intact
    csv_target = tmp_path / "review.csv"
    shown = window.safety
    assert window.save_csv(window.safety, csv_target)
    assert csv_target.read_bytes().startswith(b"\xef\xbb\xbfreport,")
    qtbot.wait(700)  # an export changes no clinical data: nothing is recomputed
    assert window.safety is shown and window.loading == 0
    written = [r for r in ws.integrity.audit_trail(limit=20) if r.action == Action.PRINT.value]
    assert any("review.csv" in (r.detail or "") for r in written)
    assert any("review.pdf" in (r.detail or "") for r in written)


def test_plots_show_every_subject_in_its_cohort_colour(qtbot, demo: Site) -> None:
    window = opened(qtbot, Workspace.sign_in(demo, "monitor.petit", "training-monitor"))
    lines = window.trajectories.lines["selena_sledai"]
    assert len(lines) == 6  # the six infused subjects
    colours = {line.opts["pen"].color().name() for line in lines}
    assert colours == {"#1f5fa8", "#b26a00", "#b00020"}  # cohorts 1, 2 and 4
    bars = window.grade_bars.bars()
    assert {b.window for b in bars} == {w.id for w in demo_windows(window)}
    window.grade_bars.related.setChecked(True)
    assert all(b.related_only for b in window.grade_bars.bars())


def demo_windows(window: OutcomesWindow) -> tuple:
    return window.ws.study.meta.scoring.toxicity.windows


def test_data_changes_recompute_the_tables(qtbot, demo: Site) -> None:
    ops = Ops()
    window = opened(qtbot, Workspace.sign_in(demo, "dr.martin", "training-doctor"), ops)
    before = window.report
    ops.announce(Changes((Change.of(Action.DATA_CHANGE, subject="99-001", visit="M3", form="bilag"),)))
    qtbot.waitUntil(lambda: window.report is not before and window.loading == 0, timeout=15000)


def test_a_nurse_is_refused_inline_and_nothing_can_be_printed(qtbot, demo: Site) -> None:
    window = opened(qtbot, Workspace.sign_in(demo, "nurse.durand", "training-nurse"))
    assert window.error is not None and "may not view the study's outcomes" in window.error
    assert window.error_label.isVisible()
    assert not window.outcomes_pdf.isEnabled() and not window.safety_csv.isEnabled()


def test_french_window(qtbot, demo: Site) -> None:
    set_lang(Lang.FR)
    window = opened(qtbot, Workspace.sign_in(demo, "dr.martin", "training-doctor"))
    assert window.windowTitle() == "Critères de jugement de l'étude"
    assert window.tabs.tabText(1) == "Revue de tolérance"
    primary = window.outcome_tables.tables["primary"]
    assert primary.text(0, 4) == "1/5 (20,0 %) · 1 en attente"


def test_open_outcomes_shows_the_window(qtbot, demo: Site) -> None:
    window = open_outcomes(Workspace.sign_in(demo, "dr.martin", "training-doctor"), None, None)
    qtbot.addWidget(window)
    assert window.isVisible()
    qtbot.waitUntil(lambda: window.loading == 0, timeout=15000)


def test_closing_while_computing_leaves_nothing_behind(qtbot, demo: Site) -> None:
    ws = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    window = OutcomesWindow(ws)
    window.show()
    assert window.loading == 2  # outcomes and the safety review, both off the UI thread
    window.close()
    qtbot.waitUntil(lambda: window.loading == 0, timeout=15000)
    assert window.report is None and window.safety is None  # finished into nothing
    window.deleteLater()


def test_dashboard_shows_toxicity_by_window(demo: Site) -> None:
    from msc_sle_crf.ui.casebook import scores_html, toxicity_html

    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    overview = doctor.overview.subject("99-007")  # PLV: serious lung infection (grade 3) on D60
    text = toxicity_html(overview.scores)
    assert "M1 to M3" in text and '<b style="color:#b00020">3</b>' in text
    assert "Infections and infestations 3" in text
    assert "M9 to M12" in text and "runs until D365" in text  # begun, not over
    assert text in scores_html(overview, doctor.study)
    assert toxicity_html(doctor.overview.subject("99-006").scores) == ""  # not infused: no window
