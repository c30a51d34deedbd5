"""Helpers for the issue-15 tests: the command line run in-process (as main() runs it) and file fingerprints."""

from __future__ import annotations

import contextlib
import hashlib
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from msc_sle_crf import cli
from msc_sle_crf.i18n import Lang, set_lang

PW = "Bonjour-Paris-2026"
FLOOR_KDF = ["--kdf-time-cost", "2", "--kdf-memory-mib", "19"]  # the code's floor: the cheapest accepted


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def one_clear_line(self) -> str:
        """The failure is one line on stderr, not a traceback and not 'unexpected error'."""
        assert self.code not in (0, 70), (self.code, self.err)
        assert "Traceback" not in self.err and "unexpected error" not in self.err.lower(), self.err
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert len(lines) == 1, self.err
        return lines[0]


def run_cli(*args: str, stdin: str = "") -> Run:
    """``msc-sle-crf ARGS`` in this process, passwords on standard input; the language is put back after."""
    out, err = io.StringIO(), io.StringIO()
    old_in = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
    finally:
        sys.stdin = old_in
        set_lang(Lang.EN)
    return Run(code, out.getvalue(), err.getvalue())


def fingerprint(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every regular file in a folder (to show that nothing changed)."""
    result = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            result[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def init_site(db: Path, *extra: Sequence[str] | str, admin: str = "chef") -> Run:
    return run_cli("init", "--db", str(db), "--admin", admin, "--full-name", "Chef de projet", "--password-stdin",
                   *FLOOR_KDF, *[str(e) for e in extra], stdin=f"{PW}\n")
