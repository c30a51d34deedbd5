"""Sign-in time against the size of the database (issue 13, item 2).

    python benchmarks/bench_signin.py            # a new 1 MB site, the 500- and the 2,000-subject trials
    python benchmarks/bench_signin.py --smoke    # a new site and the 20-subject trial, for CI

Path timed: what a user's first sign-in of a process does, ``Site.open(db)`` then ``Workspace.sign_in(site, user,
password)`` (instance lock, key file, Argon2id unlock with the parameters tuned to this machine, opening the
encrypted database and its checks, schema check, trail-head check, the sign-in's audit record). The site is closed
untimed after each run. Floor, interleaved: the Argon2id unlock of the same key slot alone
(``KeySlotFile.unwrap``). Target: sign-in independent of the size (ratio to the unlock <= 1.5 at every size).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness import Figure, env_offscreen, paired, report

env_offscreen()

from dataset import ADMIN, FAST, copy_of, trial  # noqa: E402

from msc_sle_crf.security.keyslots import KIND_USER, calibrate, normalize_secret  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402

USER, PASSWORD = "bench.signin", "bench-signin-password-1"


def prepare(db: Path) -> None:
    """A user whose key slot uses the Argon2id parameters a real site gets (tuned to this machine)."""
    site = Site.open(db)
    try:
        ws = Workspace.sign_in(site, *ADMIN)
        ws.accounts.add_user(USER, "Bench Sign-in", "investigator", initial_password=PASSWORD,
                             must_change_password=False)
        assert site.store is not None
        site.keyfile.set_slot(KIND_USER, USER, normalize_secret(PASSWORD), site.store.key, "t", kdf=calibrate())
        site.keyfile.save()
    finally:
        site.close()


def measure(label: str, db: Path, runs: int) -> Figure:
    fig = Figure(f"sign-in, {label} ({db.stat().st_size / 1e6:.0f} MB)", target=1.5,
                 path="Site.open(db) + Workspace.sign_in(site, user, password), first sign-in of the process",
                 floor_path="KeySlotFile.unwrap(user slot): the Argon2id unlock alone")
    opened: list[Site] = []
    keyfile = Site.open(db)
    keyfile.close()
    slots = keyfile.keyfile
    secret = normalize_secret(PASSWORD)

    def sign_in() -> None:
        site = Site.open(db)
        opened.append(site)
        Workspace.sign_in(site, USER, PASSWORD)

    def unlock() -> None:
        assert slots.unwrap(KIND_USER, USER, secret) is not None

    def close() -> None:
        while opened:
            opened.pop().close()

    return paired(fig, sign_in, unlock, runs, warmup=1, between=close)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (2 if args.smoke else 7)
    sizes = (20,) if args.smoke else (500, 2000)
    figures = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        small = tmp / "small.crfdb"
        site, _admin, _code = Site.initialize(small, admin_username=ADMIN[0], admin_full_name="Admin",
                                              admin_password=ADMIN[1], kdf=FAST)
        site.close()
        prepare(small)
        figures.append(measure("new site", small, runs))
        for n in sizes:
            t = trial(n)
            folder = tmp / f"t{n}"
            folder.mkdir()
            db = copy_of(t, folder)
            prepare(db)
            figures.append(measure(f"{n} subjects, {t.audit_records:,} audit records", db, runs))
            for f in folder.iterdir():
                f.unlink()
    report("bench_signin", figures)


if __name__ == "__main__":
    main()
