"""Child process for the WAL-damage test: registers subjects, printing each acknowledged one, then waits to be
killed. The trail head is noted outside the WAL after every write (interval 0) or every N seconds (argv[4])."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from msc_sle_crf.services import Site, Workspace


def main() -> None:
    db, user, password, interval, count = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), \
        int(sys.argv[5])
    site = Site.open(db)
    site.head_interval = interval
    services = Workspace.sign_in(site, user, password)
    for i in range(count):
        subject = services.subjects.register("ABC", 1950 + i % 50, "F").subject
        print(f"committed {subject.subject_number}", flush=True)
    print("idle", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
