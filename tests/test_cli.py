"""The admin command line, run as a user would run it (subprocess, passwords on stdin)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from msc_sle_crf.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--kdf-time-cost", "2", "--kdf-memory-mib", "19"]  # the floor: the cheapest settings accepted


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "msc_sle_crf", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def _one_clear_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "ERROR CORE" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def cli_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("cli") / "site.crfdb"
    proc = cli("init", "--db", str(db), "--admin", "chef", "--full-name", "Chef de projet", "--password-stdin",
               *FAST, stdin="Bonjour-Paris-2026\n")
    assert proc.returncode == 0, proc.stderr
    code_line = proc.stdout.splitlines()[proc.stdout.splitlines().index(
        next(line for line in proc.stdout.splitlines() if "RECOVERY CODE" in line)) + 1]
    return db, code_line.strip()


def test_no_command_takes_a_password_argument() -> None:
    parser_text = build_parser().format_help()
    for action in build_parser()._actions:
        assert "--password" not in action.option_strings
    assert "password" not in parser_text.replace("password-stdin", "")


def test_init_prints_the_recovery_code_once(cli_site: tuple[Path, str]) -> None:
    db, code = cli_site
    assert len(code.replace("-", "")) == 25
    assert code not in Path(f"{db}.keys").read_text()


def test_user_add_list_disable(cli_site: tuple[Path, str]) -> None:
    db, _ = cli_site
    proc = cli("user", "add", "--db", str(db), "--user", "chef", "--password-stdin", "--name", "nurse.cli",
               "--full-name", "Nurse CLI", "--role", "nurse", stdin="Bonjour-Paris-2026\n")
    assert proc.returncode == 0, proc.stderr
    one_time = proc.stdout.strip().rsplit(" ", 1)[-1]
    proc = cli("user", "list", "--db", str(db), "--user", "chef", "--password-stdin", stdin="Bonjour-Paris-2026\n")
    assert "nurse.cli" in proc.stdout and "must change password" in proc.stdout
    proc = cli("user", "passwd", "--db", str(db), "--user", "nurse.cli", "--password-stdin",
               stdin=f"{one_time}\nnurse-own-password\n")
    assert proc.returncode == 0, proc.stderr
    proc = cli("user", "disable", "--db", str(db), "--user", "chef", "--password-stdin", "--name", "nurse.cli",
               "--reason", "left", stdin="Bonjour-Paris-2026\n")
    assert proc.returncode == 0, proc.stderr
    proc = cli("verify", "--db", str(db), "--user", "nurse.cli", "--password-stdin", stdin="nurse-own-password\n")
    assert "unknown user name or wrong password" in _one_clear_line(proc)


def test_wrong_password_is_one_line_and_audited(cli_site: tuple[Path, str]) -> None:
    db, _ = cli_site
    proc = cli("verify", "--db", str(db), "--user", "chef", "--password-stdin", stdin="wrong-password-x\n")
    assert proc.returncode == 3
    assert _one_clear_line(proc) == "msc-sle-crf: Sign-in failed: unknown user name or wrong password."
    proc = cli("--lang", "fr", "verify", "--db", str(db), "--user", "chef", "--password-stdin", stdin="bad-bad-bad\n")
    assert "Échec de la connexion" in _one_clear_line(proc)
    ok = cli("verify", "--db", str(db), "--user", "chef", "--password-stdin", stdin="Bonjour-Paris-2026\n")
    assert ok.returncode == 0, ok.stderr
    assert "Audit trail: OK" in ok.stdout and "Database pages: OK" in ok.stdout


def test_verify_fails_with_the_first_bad_record_named(tmp_path: Path) -> None:
    db = tmp_path / "t.crfdb"
    assert cli("init", "--db", str(db), "--admin", "chef", "--password-stdin", *FAST,
               stdin="Bonjour-Paris-2026\n").returncode == 0
    from msc_sle_crf.services import Site
    from tests.helpers.sql import run_sql

    with Site.open(db) as site:
        site.sign_in("chef", "Bonjour-Paris-2026")
        run_sql(site.store, "DROP TRIGGER audit_event_no_update")
        run_sql(site.store, "UPDATE audit_event SET detail = 'edited' WHERE id = 2")
    proc = cli("verify", "--db", str(db), "--user", "chef", "--password-stdin", stdin="Bonjour-Paris-2026\n")
    assert proc.returncode == 6
    assert "record #2" in proc.stderr and "altered" in proc.stderr and "Traceback" not in proc.stderr
    # Any other command says it at sign-in (the opening re-checks the newest records) and still runs.
    proc = cli("user", "list", "--db", str(db), "--user", "chef", "--password-stdin", stdin="Bonjour-Paris-2026\n")
    assert proc.returncode == 0 and "record #2" in proc.stderr, proc.stderr


def test_backup_and_restore_commands(cli_site: tuple[Path, str], tmp_path: Path) -> None:
    db, _ = cli_site
    out = tmp_path / "site-backup.tar"
    proc = cli("backup", "--db", str(db), "--out", str(out), "--user", "chef", "--password-stdin",
               stdin="Bonjour-Paris-2026\n")
    assert proc.returncode == 0 and out.exists(), proc.stderr
    target = tmp_path / "restored.crfdb"
    proc = cli("restore", "--backup", str(out), "--db", str(target), "--user", "chef", "--password-stdin",
               stdin="Bonjour-Paris-2026\n")
    assert proc.returncode == 0, proc.stderr
    assert "audit records verified" in proc.stdout
    again = cli("restore", "--backup", str(out), "--db", str(target), "--user", "chef", "--password-stdin",
                stdin="Bonjour-Paris-2026\n")
    assert "already exists" in _one_clear_line(again)


def test_recovery_code_from_the_command_line(cli_site: tuple[Path, str], tmp_path: Path) -> None:
    db, code = cli_site
    proc = cli("user", "passwd", "--db", str(db), "--user", "chef", "--recovery-code", "--password-stdin",
               stdin=f"{code}\nBonjour-Paris-2026\n")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("problem", ["missing", "corrupt-keys", "not-a-db"])
def test_damaged_files_give_one_clear_line(tmp_path: Path, problem: str) -> None:
    db = tmp_path / "d.crfdb"
    if problem != "missing":
        assert cli("init", "--db", str(db), "--admin", "chef", "--password-stdin", *FAST,
                   stdin="Bonjour-Paris-2026\n").returncode == 0
    if problem == "corrupt-keys":
        Path(f"{db}.keys").write_text("{broken")
    if problem == "not-a-db":
        db.write_bytes(b"plain text " * 1000)
    line = _one_clear_line(cli("verify", "--db", str(db), "--user", "chef", "--password-stdin",
                               stdin="Bonjour-Paris-2026\n"))
    expected = {"missing": "not found", "corrupt-keys": "key file", "not-a-db": "not an MSC-SLE database"}
    assert expected[problem] in line


def test_no_password_and_no_terminal_is_a_clear_error(cli_site: tuple[Path, str]) -> None:
    db, _ = cli_site
    line = _one_clear_line(cli("verify", "--db", str(db), "--user", "chef"))
    assert "--password-stdin" in line


def test_second_instance_from_another_process(cli_site: tuple[Path, str]) -> None:
    db, _ = cli_site
    from msc_sle_crf.services import Site

    with Site.open(db):
        line = _one_clear_line(cli("verify", "--db", str(db), "--user", "chef", "--password-stdin",
                                   stdin="Bonjour-Paris-2026\n"))
    assert "already open" in line


def test_demo_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.crfdb"
    proc = cli("demo", "--db", str(db), *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "nurse.durand" in proc.stdout and "training-nurse" in proc.stdout
    proc = cli("verify", "--db", str(db), "--user", "dr.martin", "--password-stdin", stdin="training-doctor\n")
    assert proc.returncode == 0, proc.stderr
