"""Item 1: a file the user asks to write (PDF, backup) never touches the site's data; refused with one clear line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.fileutil import safe_output_path
from msc_sle_crf.security.keyslots import KeySlotFile
from msc_sle_crf.services import Site, Workspace

from .issue15_helpers import PW, fingerprint, init_site, run_cli


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("out") / "site.crfdb"
    assert init_site(db).code == 0
    with Site.open(db) as site:
        Workspace.sign_in(site, "chef", PW).accounts.add_user("dr.pdf", "Dr Pdf", "investigator", initial_password=PW,
                                                             must_change_password=False)
    return db


def _pdf(db: Path, out: str) -> object:
    return run_cli("pdf", "--db", str(db), "--user", "dr.pdf", "--password-stdin", "--blank", "--out", out,
                   stdin=f"{PW}\n")


def _backup(db: Path, out: str) -> object:
    return run_cli("backup", "--db", str(db), "--user", "chef", "--password-stdin", "--out", out, stdin=f"{PW}\n")


SITE_FILES = ["", ".keys", "-wal", "-shm", ".lock"]


@pytest.mark.parametrize("suffix", SITE_FILES)
@pytest.mark.parametrize("command", [_pdf, _backup])
def test_pdf_and_backup_refuse_every_site_file(cli_db: Path, suffix: str, command) -> None:  # type: ignore[no-untyped-def]
    target = Path(f"{cli_db}{suffix}")
    target.touch(exist_ok=True)  # -wal/-shm exist while open; make sure there is something to protect
    run = command(cli_db, str(target))
    line = run.one_clear_line()
    assert "database or one of the site's files" in line and "Nothing was written" in line
    _site_intact(cli_db)


def _site_intact(db: Path) -> None:
    """No site file was replaced by the output; the site opens with the same password and verifies."""
    for name, _digest in fingerprint(db.parent).items():
        if name.startswith(db.name):
            head = (db.parent / name).read_bytes()[:8]
            assert not head.startswith((b"%PDF", b"MANIFEST", b"database")), name
    assert KeySlotFile.load(Path(f"{db}.keys")).slots
    run = run_cli("verify", "--db", str(db), "--user", "chef", "--password-stdin", stdin=f"{PW}\n")
    assert run.code == 0, run.err


def test_links_and_other_spellings_of_the_database_are_refused(cli_db: Path, tmp_path: Path) -> None:
    link = tmp_path / "innocent.pdf"
    link.symlink_to(cli_db)
    hard = tmp_path.parent / "hardlink.pdf"
    if hard.exists():
        hard.unlink()
    try:
        os.link(cli_db, hard)
    except OSError:
        hard = None  # type: ignore[assignment]
    names = [str(link), str(cli_db.parent / "." / cli_db.name), str(cli_db.parent / ".." / cli_db.parent.name
                                                                       / cli_db.name)]
    if hard is not None:
        names.append(str(hard))
    for name in names:
        line = _pdf(cli_db, name).one_clear_line()
        assert "Cannot write" in line
        assert link.is_symlink() and link.resolve() == cli_db.resolve()
    _site_intact(cli_db)
    if hard is not None:
        hard.unlink()


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_devices_are_refused_and_left_alone(cli_db: Path, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} not on this system")
    mode = os.stat(device).st_mode
    line = _pdf(cli_db, device).one_clear_line()
    assert "not a regular file" in line
    assert os.stat(device).st_mode == mode and stat.S_ISCHR(os.stat(device).st_mode)


def test_folder_fifo_missing_folder_and_dangling_link(cli_db: Path, tmp_path: Path) -> None:
    assert "is a folder" in _pdf(cli_db, str(tmp_path)).one_clear_line()
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    assert "not a regular file" in _pdf(cli_db, str(fifo)).one_clear_line()
    assert "does not exist" in _pdf(cli_db, str(tmp_path / "nope" / "x.pdf")).one_clear_line()
    dangling = tmp_path / "dangling.pdf"
    dangling.symlink_to(tmp_path / "gone.pdf")
    assert "does not exist" in _pdf(cli_db, str(dangling)).one_clear_line()
    assert "no file name" in _pdf(cli_db, "").one_clear_line()
    assert "too long" in _pdf(cli_db, str(tmp_path / ("x" * 300))).one_clear_line()


def test_a_new_name_and_an_existing_user_file_are_written(cli_db: Path, tmp_path: Path) -> None:
    new = tmp_path / "blank.pdf"
    assert _pdf(cli_db, str(new)).code == 0
    assert new.read_bytes().startswith(b"%PDF")
    old = tmp_path / "old.pdf"
    old.write_bytes(b"an older copy")
    assert _pdf(cli_db, str(old)).code == 0
    assert old.read_bytes().startswith(b"%PDF")
    # a new name in the database's folder that is not one of the site's files is fine
    beside = cli_db.parent / "casebook-export.pdf"
    assert _pdf(cli_db, str(beside)).code == 0
    beside.unlink()


def test_french_message(cli_db: Path) -> None:
    run = run_cli("--lang", "fr", "pdf", "--db", str(cli_db), "--user", "dr.pdf", "--password-stdin", "--blank",
                  "--out", f"{cli_db}.keys", stdin=f"{PW}\n")
    assert "Impossible d'écrire" in run.one_clear_line() and "fichiers du site" in run.err


def test_service_write_refuses_too(site: Site, admin: Workspace, db_path: Path, tmp_path: Path) -> None:
    before = db_path.with_suffix(".keys")
    keys = Path(f"{db_path}.keys").read_bytes()
    nurse_pdf = b"%PDF-1.7 not really"
    with pytest.raises(ValidationError) as err:
        admin.printing.write(nurse_pdf, Path(f"{db_path}.keys"), "test")
    assert err.value.msg is Msg.OUTPUT_REFUSED
    assert Path(f"{db_path}.keys").read_bytes() == keys
    assert not before.exists()
    # the function the other writers use, with a data folder: any existing file under it is protected
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "settings.json").write_text("{}")
    with pytest.raises(ValidationError):
        safe_output_path(tmp_path / "data" / "settings.json", data_dir=tmp_path / "data")
    assert safe_output_path(tmp_path / "data" / "new.pdf", data_dir=tmp_path / "data")
