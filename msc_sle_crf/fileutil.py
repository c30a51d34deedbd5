"""Durable, private file writes: temp file created with 0600 before any byte is written, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NoReturn


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(target: Path, mode: int = 0o600) -> Iterator[IO[bytes]]:
    """Yield a binary file; on clean exit it replaces ``target`` atomically. On error nothing is left behind."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


MANIFEST_MEMBER = "MANIFEST.json"  # the backup format's manifest (services/backup.py)


def backup_kind(source: bytes | Path) -> str | None:
    """What a file of the backup format is, read without any key: "workstation" (``workstation add``: another laptop
    of the site), "backup", or None (not of that format). Both are tar files whose ``manifest.json`` says which; a
    SQLCipher database or a packet never has the tar mark (``ustar`` at byte 257)."""
    import io
    import json
    import tarfile

    try:
        if isinstance(source, bytes):
            head = source[:512]
        else:
            with open(source, "rb") as fh:
                head = fh.read(512)
        if head[257:262] != b"ustar":
            return None
        with tarfile.open(fileobj=io.BytesIO(source), mode="r:") if isinstance(source, bytes) \
                else tarfile.open(source, mode="r:") as tar:
            member = tar.getmember(MANIFEST_MEMBER)
            data = tar.extractfile(member) if member.isfile() and member.size <= 1 << 20 else None
            manifest = json.loads(data.read()) if data is not None else None
    except (OSError, KeyError, ValueError, tarfile.TarError):
        return None
    if not isinstance(manifest, dict) or not str(manifest.get("format", "")).startswith("msc-sle-crf"):
        return None
    return "workstation" if manifest.get("workstation") else "backup"


def atomic_write_bytes(target: Path, data: bytes, mode: int = 0o600) -> None:
    with atomic_writer(target, mode) as fh:
        fh.write(data)


# ----- where a user's file may be written ------------------------------------------------------------------------
def site_file(path: Path, db_path: Path) -> bool:
    """Whether ``path`` (already resolved) is one of the site's own files: the database, its key file, WAL, SHM,
    lock, journal, trail head, files kept aside by a restore or an upgrade, and the temporary files of those steps.
    They all sit in the database's folder and their names start with the database's name (or with a dot before
    it, or '.restore-' for a restore's staging copy)."""
    db = Path(os.path.realpath(db_path))
    if path.parent != db.parent:
        return False
    name = path.name
    return (name == db.name or name.startswith((f"{db.name}.", f"{db.name}-", f".{db.name}", ".restore-")))


def _refuse(target: object, en: str, fr: str) -> NoReturn:
    from msc_sle_crf.errors import Msg, ValidationError
    from msc_sle_crf.i18n import L

    raise ValidationError(Msg.OUTPUT_REFUSED, path=str(target)[:300], reason=L(en, fr))


def check_input_file(source: Path | str, *, max_bytes: int) -> Path:
    """A file the user gives to be read (a backup, a PKCS#12 file): it must exist and be a regular file of at most
    ``max_bytes`` (a folder, a device or a pipe would hang or mislead the reader). One clear line otherwise."""
    from msc_sle_crf.errors import Msg, ValidationError
    from msc_sle_crf.i18n import L

    def refuse(en: str, fr: str) -> NoReturn:
        raise ValidationError(Msg.INPUT_UNREADABLE, path=str(source)[:300], reason=L(en, fr))

    text = str(source)
    if not text.strip() or "\x00" in text:
        refuse("not a valid file name", "nom de fichier non valide")
    path = Path(text).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        refuse("no such file", "fichier introuvable")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        refuse(reason, reason)
    if stat.S_ISDIR(st.st_mode):
        refuse("it is a folder, not a file", "c'est un dossier, pas un fichier")
    if not stat.S_ISREG(st.st_mode):
        refuse("it is not a regular file (a device or a pipe)", "ce n'est pas un fichier ordinaire (périphérique "
               "ou tube)")
    if st.st_size > max_bytes:
        refuse(f"it is {st.st_size:,} bytes; at most {max_bytes:,} are accepted",
               f"il fait {st.st_size:,} octets ; {max_bytes:,} au plus sont acceptés")
    return path


def _check_name(text: str) -> Path:
    if not text.strip():
        _refuse(text, "no file name given", "aucun nom de fichier")
    if "\x00" in text:
        _refuse(text.replace("\x00", "\\0"), "the name contains a NUL character", "le nom contient un caractère NUL")
    path = Path(text).expanduser()
    try:
        too_long = len(os.fsencode(path.name)) > 255 or len(os.fsencode(str(path))) > 4096
    except UnicodeError:
        _refuse(text, "the name cannot be encoded", "le nom ne peut pas être encodé")
    if too_long:
        _refuse(text, "the name is too long", "le nom est trop long")
    return path


def _protected_inodes(text: str, path: Path, resolved: Path, db_path: Path) -> set[tuple[int, int]]:
    """Refuse a site file named directly or through links; return the site files' (device, inode) pairs."""
    db = Path(os.path.realpath(db_path))
    if site_file(resolved, db) or site_file(Path(os.path.abspath(path)), db):
        _refuse(text, "it is the database or one of the site's files", "c'est la base ou l'un des fichiers du site")
    inodes: set[tuple[int, int]] = set()
    with contextlib.suppress(OSError):
        for sibling in os.scandir(db.parent):
            if site_file(db.parent / sibling.name, db):
                s = sibling.stat(follow_symlinks=False)
                inodes.add((s.st_dev, s.st_ino))
    return inodes


def safe_output_path(target: Path | str, *, db_path: Path | None = None, data_dir: Path | None = None) -> Path:
    """Check a file a user asked to write (a PDF, a backup, an export, a receipt) before anything is written.

    Refused, with one clear bilingual line and nothing changed: an empty or over-long name; a target that resolves
    (symbolic links followed) to the database, its key file, WAL, SHM, lock or any other file of the site (see
    ``site_file``), or to any existing file under ``data_dir``; a hard link to one of those; anything that exists
    and is not a regular file (a folder, a device such as /dev/full or /dev/null, a pipe, a socket); a folder that
    does not exist. A new name, or an existing regular file of the user's, is accepted. Returns the path as given.
    """
    text = str(target)
    path = _check_name(text)
    try:
        resolved = Path(os.path.realpath(path))
        st = os.stat(resolved) if os.path.lexists(resolved) else None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        _refuse(text, f"the path cannot be checked ({reason})", f"le chemin ne peut pas être vérifié ({reason})")
    protected = _protected_inodes(text, path, resolved, db_path) if db_path is not None else set()
    if data_dir is not None and st is not None:
        root = Path(os.path.realpath(data_dir))
        if resolved == root or root in resolved.parents:
            _refuse(text, "it is a file of the program's data folder",
                    "c'est un fichier du dossier de données du programme")
    if st is None:
        if os.path.islink(path):
            _refuse(text, "it is a link to a file that does not exist", "c'est un lien vers un fichier inexistant")
        if not resolved.parent.is_dir():
            _refuse(text, f"the folder {resolved.parent} does not exist", f"le dossier {resolved.parent} n'existe pas")
        return path
    if stat.S_ISDIR(st.st_mode):
        _refuse(text, "it is a folder; give a file name", "c'est un dossier ; indiquez un nom de fichier")
    if not stat.S_ISREG(st.st_mode):
        _refuse(text, "it is not a regular file (a device, a pipe or a socket)",
                "ce n'est pas un fichier ordinaire (périphérique, tube ou socket)")
    if (st.st_dev, st.st_ino) in protected:
        _refuse(text, "it is another name (link) of one of the site's files",
                "c'est un autre nom (lien) de l'un des fichiers du site")
    return path
