"""Child process for the crash test: signs in and registers subjects in a loop, printing each committed one."""

from __future__ import annotations

import sys
from pathlib import Path

from msc_sle_crf.services import Site, Workspace


def main() -> None:
    db, user, password = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    site = Site.open(db)
    services = Workspace.sign_in(site, user, password)
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        subject = services.subjects.register("ABC", 1900 + i % 100, "F").subject
        services.drafts.save("crash-test", {"n": i, "note": f"draft {i}"})
        print(f"committed {subject.subject_number} {i}", flush=True)


if __name__ == "__main__":
    main()
