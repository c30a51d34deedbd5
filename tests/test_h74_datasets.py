"""h74: what the statistician's datasets say beyond tests/test_h72_findings.py (the exporter's name in a
de-identified manifest, the stored subject status kept with what the app shows, the precision of a unit)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from msc_sle_crf.clock import FakeClock
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
