"""Issue 16: the Export screen. Reachable from the Study menu for the roles study.yaml allows; the export runs off
the UI thread with progress; Cancel stops it and leaves nothing under the chosen name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.export import manifest as mf
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.export_dialog import ExportDialog
from msc_sle_crf.ui.main_window import MainWindow
from msc_sle_crf.ui.ops import Ops

from .conftest import FAST_KDF


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export-ui") / "demo.crfdb"
    create_demo(path, kdf=FAST_KDF, clock=FakeClock()).close()
    return path


@pytest.fixture
def site(demo_path: Path) -> Iterator[Site]:
    s = Site.open(demo_path, clock=FakeClock())
    yield s
    s.close()


def test_the_study_menu_offers_the_export_to_the_roles_study_yaml_allows(qtbot, site: Site) -> None:
    for user, password, allowed in (("dr.martin", "training-doctor", True), ("nurse.durand", "training-nurse", False),
                                    ("admin", "training-manager", True)):
        window = MainWindow(Workspace.sign_in(site, user, password), idle_ms=10**9)
        qtbot.addWidget(window)
        assert window.export_action.isEnabled() is allowed, user
        assert window.export_action in window.study_menu.actions()


def test_export_runs_in_the_background_with_progress(qtbot, site: Site, tmp_path: Path) -> None:
    ws = Workspace.sign_in(site, "monitor.petit", "training-monitor")
    dialog = ExportDialog(ws, Ops())
    qtbot.addWidget(dialog)
    dialog.target.setText(str(tmp_path / "out"))
    dialog.some_subjects.setChecked(True)
    dialog.subjects.item(0).setCheckState(Qt.CheckState.Checked)
    dialog.deidentified.setChecked(True)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.running and not dialog.start_button.isEnabled(), "the UI thread is free while it runs"
    qtbot.waitUntil(lambda: dialog.exported is not None, timeout=60_000)
    assert dialog.exported.subjects == 1
    assert mf.verify(tmp_path / "out", None).problems == [
        p for p in mf.verify(tmp_path / "out", None).problems if p.startswith("no site CA fingerprint")]


def test_cancel_leaves_nothing(qtbot, site: Site, tmp_path: Path) -> None:
    ws = Workspace.sign_in(site, "dr.martin", "training-doctor")
    dialog = ExportDialog(ws, Ops())
    qtbot.addWidget(dialog)
    dialog.target.setText(str(tmp_path / "out"))
    dialog.cancel_event.set()  # as if Cancel were pressed before the first step reports
    real = dialog.cancel_event.clear
    dialog.cancel_event.clear = lambda: None  # type: ignore[method-assign]
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    real()
    assert "cancelled" in dialog.step.text()
    assert list(tmp_path.iterdir()) == []
    assert dialog.exported is None


def test_an_existing_target_is_refused_on_screen(qtbot, site: Site, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: shown.append(text))
    ws = Workspace.sign_in(site, "dr.martin", "training-doctor")
    dialog = ExportDialog(ws, Ops())
    qtbot.addWidget(dialog)
    (tmp_path / "taken").mkdir()
    dialog.target.setText(str(tmp_path / "taken"))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert not dialog.running and shown and "already exists" in shown[0]
