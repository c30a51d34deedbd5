"""The TRAINING database plus what the demo lacks, for the tests that read everything back out of it (the export,
the hub): a change with a reason, a signature, an SDV mark and a query answered; optionally a value missing with
its reason."""

from __future__ import annotations

from pathlib import Path

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef
from tests.conftest import FAST_KDF

LABS_M12 = FormRef("99-001", "M12", "labs")


def monitored_demo(path: Path, *, missing_value: bool = False) -> Path:
    """Writes the database at ``path`` (closed on return) and returns ``path``."""
    site = create_demo(path, kdf=FAST_KDF, clock=FakeClock())
    try:
        doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
        if missing_value:
            doctor.entry.set_missing(LABS_M12, ("lb", 0, "CRP"), "ND", "sample haemolysed", reason="lab error")
        doctor.entry.save_item(LABS_M12, ("lb", 0, "PLAT"), "231", reason="transcription error")
        doctor.lifecycle.sign(FormRef("99-001", "M12", "selena_sledai"), "dr.martin", "training-doctor", "approval")
        monitor = Workspace.sign_in(site, "monitor.petit", "training-monitor")
        monitor.monitoring.verify_item(LABS_M12, ("lb", 0, "HGB"))
        opened = monitor.monitoring.open_query(LABS_M12, ("lb", 0, "WBC"), "Please check the WBC unit")
        doctor.monitoring.answer(opened.query_id, "Checked against the lab report: correct")
    finally:
        site.close()
    return path
