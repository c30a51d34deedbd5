"""Child process for the bedside crash test: an infusion in progress, then it waits to be killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from msc_sle_crf.infusion import timer as T
from msc_sle_crf.services import Site, Workspace


def main() -> None:
    db, user, password, second, second_password = Path(sys.argv[1]), *sys.argv[2:6]
    site = Site.open(db)  # the real clock: wall time, boot time and boot id
    bedside = Workspace.sign_in(site, user, password).bedside
    bedside.product_check("01-001", identity_confirmed=True, weight_kg="58", cohort="2", bag_id="UC-1", lot="L1",
                          labelled_cells_e6="116", use_by="31/12/2099 23:59", premedication="none")
    bedside.second_check("01-001", second, second_password)
    bedside.record_vitals("01-001", "BASE", {"VSTEMP": "36,9", "VSHR": "78", "VSSYSBP": "126", "VSDIABP": "80",
                                             "VSSPO2": "98"})
    bedside.timer("01-001", T.Kind.START)
    bedside.timer("01-001", T.Kind.PAUSE, "line occluded")
    bedside.timer("01-001", T.Kind.RESUME)
    bedside.record_vitals("01-001", "T15", {"VSTEMP": "37,2", "VSHR": "84", "VSSYSBP": "120", "VSDIABP": "76",
                                            "VSSPO2": "97"}, confirm=True)  # early for T15: the nurse confirms it
    bedside.save_typed("01-001", "VSTEMP", "37,")  # being typed when the process dies
    print(f"running {time.time()}", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
