"""Attack note (h55): the site built with the command line as the README says, then every file the program left on
disk scanned for a secret, a password, the packet secret's one-time code or trial data in clear.

    PYTHONPATH=. TMPDIR=/tmp/h55 .venv/bin/python tests/attack_notes/cli_site_scan.py [WORKDIR]

WS-01 (init, accounts, a subject with a value), WS-02 (workstation add / open), packets both ways, WS-01's
administrator disables nurse.b (the one-time code printed once), WS-01's next packet imported on WS-02 with
``packet import --code``. Everything runs with HOME, the data, log and cache folders and TMPDIR inside WORKDIR, so
the scan covers every file the program wrote: databases, key files, packets, logs, QSettings, caches, temp files.
Prints what it found; exit 1 if any needle is found in a file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PY = sys.executable
ADMIN_PW = "granite-harbour-93-adm"
DR_PW = "quartz-meadow-71-dr"
NURSE_PW = "copper-lantern-58-nu"
INITIALS = "QZX"  # the subject's initials: trial data that must never be in clear
CODE_RE = re.compile(r"\b[0-9A-Z]{5}(?:-[0-9A-Z]{5}){4}\b")


def main() -> int:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="h55-cli-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(work / "home"), "MSC_SLE_CRF_DATA_DIR": str(work / "data"),
           "MSC_SLE_CRF_LOG_DIR": str(work / "log"), "MSC_SLE_CRF_CACHE_DIR": str(work / "cache"),
           "TMPDIR": str(work / "tmp"), "XDG_CONFIG_HOME": str(work / "config"), "QT_QPA_PLATFORM": "offscreen"}
    for d in ("home", "data", "log", "cache", "tmp", "config", "a", "b", "usb"):
        (work / d).mkdir(exist_ok=True)
    a, b, usb = work / "a" / "site.crfdb", work / "b" / "ws02.crfdb", work / "usb"
    shown: list[str] = []

    def cli(*args: str, stdin: str = "") -> str:
        done = subprocess.run([PY, "-m", "msc_sle_crf", "--lang", "en", *args], input=stdin, env=env,
                              capture_output=True, text=True, check=False, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"{args[:2]} failed: {done.stderr.strip()}")
        shown.append(done.stdout + done.stderr)
        return done.stdout

    fast = ("--kdf-time-cost", "2", "--kdf-memory-mib", "19")
    recovery = CODE_RE.findall(cli("init", "--db", str(a), "--admin", "admin", *fast, "--password-stdin",
                                   stdin=ADMIN_PW + "\n"))
    for name, role, pw in (("dr.a", "investigator", DR_PW), ("nurse.b", "nurse", NURSE_PW)):
        out = cli("user", "add", "--db", str(a), "--user", "admin", "--password-stdin", "--name", name,
                  "--full-name", name.title(), "--role", role, stdin=ADMIN_PW + "\n")
        once = out.strip().split()[-1]
        cli("user", "passwd", "--db", str(a), "--user", name, "--password-stdin", stdin=f"{once}\n{pw}\n")
    # a subject and a value, through the program's services (the CLI has no data entry)
    subprocess.run([PY, "-c", f"""
from pathlib import Path
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.entry import FormRef
with Site.open(Path({str(a)!r})) as site:
    ws = Workspace.sign_in(site, 'dr.a', {DR_PW!r})
    ws.subjects.register({INITIALS!r}, 1980, 'F')
    ws.entry.save_values(FormRef('01-001', 'SCR', 'renal_function'),
                         {{('lb', 0, 'LBDAT'): '20/11/2026', ('lb', 0, 'CREAT'): '88'}})
    Workspace.sign_in(site, 'nurse.b', {NURSE_PW!r})
"""], env=env, check=True, timeout=300)
    cli("workstation", "add", "--db", str(a), "--user", "admin", "--password-stdin", "--out",
        str(usb / "WS-02.crfws"), stdin=ADMIN_PW + "\n")
    cli("workstation", "open", str(usb / "WS-02.crfws"), "--db", str(b), "--user", "admin", "--password-stdin",
        stdin=ADMIN_PW + "\n")
    cli("packet", "export", "--db", str(a), "--user", "dr.a", "--password-stdin", "--out", str(usb),
        stdin=DR_PW + "\n")
    for packet in sorted(usb.glob("*WS-01*.crfpkt")):
        cli("packet", "import", "--db", str(b), "--user", "dr.a", "--password-stdin", str(packet), stdin=DR_PW + "\n")
    out = cli("user", "disable", "--db", str(a), "--user", "admin", "--password-stdin", "--name", "nurse.b",
              "--reason", "left the unit", stdin=ADMIN_PW + "\n")
    codes = CODE_RE.findall(out)
    assert len(codes) == 1, out
    cli("packet", "export", "--db", str(a), "--user", "dr.a", "--password-stdin", "--out", str(usb),
        stdin=DR_PW + "\n")
    newest = sorted(usb.glob("*WS-01*.crfpkt"))[-1]
    cli("packet", "import", "--db", str(b), "--user", "dr.a", "--password-stdin", "--code", str(newest),
        stdin=f"{DR_PW}\n{codes[0].lower()}\n")
    needles = {"packet code": codes[0], "recovery code": recovery[0] if recovery else "(none)",
               "admin password": ADMIN_PW, "doctor password": DR_PW, "nurse password": NURSE_PW,
               "subject initials": INITIALS}
    found = 0
    files = [p for p in work.rglob("*") if p.is_file()]
    for path in files:
        blob = path.read_bytes()
        for what, needle in needles.items():
            for form in {needle, needle.replace("-", ""), needle.lower()}:
                if form.encode() in blob:
                    print(f"FOUND {what} in {path}")
                    found += 1
    print(f"{len(files)} files scanned under {work}: {found} finding(s); the code was printed once on stdout "
          f"({sum(c in t for t in shown for c in codes)} output(s) held it)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
