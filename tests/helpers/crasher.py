"""Child process for the crash tests of multi-file steps: runs one step and SIGKILLs itself at a chosen point.

    python -m tests.helpers.crasher DB SCENARIO POINT N [ARGS...]

POINT is "replace" (killed right after the N-th file rename, which is how every file here is written: key file,
journal, restore moves, backup copies) or "finish" (killed just before the N-th step's journal is removed, i.e.
after everything else of the step was done). The child prints "done" when the step ran to its end without being
killed (N was past the last point), so the parent knows it has tried every point.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from msc_sle_crf.store import journal as J


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str, n: int) -> None:
    count = [0]
    if point == "replace":
        real_replace = os.replace

        def replace(*args: Any, **kwargs: Any) -> None:
            real_replace(*args, **kwargs)
            count[0] += 1
            if count[0] == n:
                _die()

        os.replace = replace  # type: ignore[assignment]
    elif point == "finish":
        real_finish = J.Journal.finish

        def finish(self: J.Journal) -> None:
            count[0] += 1
            if count[0] == n:
                _die()
            real_finish(self)

        J.Journal.finish = finish  # type: ignore[method-assign]


def main() -> None:
    db, scenario, point, n = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    args = sys.argv[5:]
    from msc_sle_crf.services import Site, Workspace
    from tests.conftest import ADMIN_PW, FAST_KDF

    if scenario == "init":
        arm(point, n)
        Site.initialize(db, admin_username="admin", admin_full_name="Ada Admin", admin_password=ADMIN_PW,
                        kdf=FAST_KDF, show_recovery_code=lambda code: print(f"code {code}", flush=True))[0].close()
        print("done", flush=True)
        return
    if scenario == "restore":
        from msc_sle_crf.services.backup import restore_backup

        arm(point, n)
        restore_backup(Path(args[0]), db, "admin", ADMIN_PW, force=True)
        print("done", flush=True)
        return
    site = Site.open(db)
    if scenario == "recovery":
        arm(point, n)
        site.reset_with_recovery_code(args[0], "nurse.c", args[1])
    elif scenario == "passwd":
        ws = Workspace.sign_in(site, "nurse.c", args[0])
        arm(point, n)
        ws.accounts.change_password(args[0], args[1])
    elif scenario == "upgrade":
        arm(point, n)
        Workspace.sign_in(site, "admin", ADMIN_PW)
    else:
        ws = Workspace.sign_in(site, "admin", ADMIN_PW)
        arm(point, n)
        if scenario == "reset":
            print(f"password {ws.accounts.reset_password('nurse.c').password}", flush=True)
        elif scenario == "add_temp":
            print(f"password {ws.accounts.add_user('new.user', 'New User', 'nurse').password}", flush=True)
        elif scenario == "add_given":
            ws.accounts.add_user("new.user", "New User", "nurse", initial_password=args[0],
                                 must_change_password=False)
        elif scenario == "disable":
            ws.accounts.disable_user("nurse.c", "left the unit")
    site.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
