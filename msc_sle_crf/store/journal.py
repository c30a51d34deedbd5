"""A journal for steps that change more than one file (or a file and the database), so that a crash at any
point leaves something the next start completes or undoes, and says so.

A step writes ``<db>.journal`` (JSON with a checksum, written atomically) *before* its first change, naming
everything it is about to do; it removes the journal when it is done. When a site is opened and a journal is there,
the step was interrupted: its recovery runs under the instance lock, before anything else reads the files.

Each kind of step registers how it is recovered:
- ``at_open(db_path, journal)`` runs when the site is opened, before any key is known (file moves: a restore, the
  copy taken before an upgrade, a site being created);
- ``with_store(site, journal)`` runs once the database key is known (at the first sign-in), for steps whose
  outcome is recorded inside the database (credential changes; key rotation will be one).
A recovery returns a ``Notice`` (completed or undone) that the program shows, and records it in the audit trail.
Only one step runs at a time: beginning a step while a journal is there is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.fileutil import atomic_write_bytes, fsync_dir
from msc_sle_crf.i18n import L, Lang

if TYPE_CHECKING:
    from msc_sle_crf.store.site import Site

FORMAT = "msc-sle-crf-journal"
VERSION = 1
MAX_JOURNAL_BYTES = 1 << 20

STEP_LABELS: dict[str, L] = {
    "init": L("site creation", "création du site"),
    "restore": L("restore of a backup", "restauration d'une sauvegarde"),
    "upgrade": L("database upgrade", "mise à niveau de la base"),
    "credential": L("change of account credentials", "modification des identifiants d'un compte"),
    "rekey": L("key rotation", "rotation de clé"),
}


COMPANIONS = (".keys", "-wal", "-shm", ".head")  # the files that go with a database (besides .lock, .journal)


def companions(db_path: Path) -> list[Path]:
    return [Path(f"{db_path}{suffix}") for suffix in COMPANIONS]


def step_label(step: str) -> L:
    return STEP_LABELS.get(step, L(step, step))


@dataclass
class Journal:
    path: Path
    step: str
    id: str
    started_utc: str
    data: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def path_for(db_path: Path | str) -> Path:
        return Path(f"{db_path}.journal")

    @classmethod
    def begin(cls, db_path: Path, step: str, data: dict[str, Any], started_utc: str) -> Journal:
        """Write the journal of a new step (refused while another step's journal is there)."""
        path = cls.path_for(db_path)
        if os.path.lexists(path):
            raise StoreError(Msg.STEP_NOT_RECOVERABLE, step=step_label(cls._peek_step(path)), path=str(path),
                             detail=L("another step is still pending; open the site to finish it first",
                                      "une autre opération est en attente ; ouvrez le site pour la terminer"))
        journal = cls(path, step, uuid.uuid4().hex[:16], started_utc, dict(data))
        journal.save()
        return journal

    @staticmethod
    def _peek_step(path: Path) -> str:
        try:
            return str(json.loads(path.read_bytes()[:MAX_JOURNAL_BYTES]).get("step", "?"))
        except (OSError, ValueError, AttributeError):
            return "?"

    def _content(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "step": self.step, "id": self.id,
                "started_utc": self.started_utc, "data": self.data}

    @staticmethod
    def _checksum(content: dict[str, Any]) -> str:
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def save(self) -> None:
        content = self._content()
        atomic_write_bytes(self.path, json.dumps({**content, "checksum": self._checksum(content)}, indent=1,
                                                 sort_keys=True, ensure_ascii=False).encode() + b"\n")

    def update(self, **data: Any) -> None:
        self.data.update(data)
        self.save()

    def finish(self) -> None:
        """The step is complete (or undone): forget it."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        fsync_dir(self.path.parent)

    @classmethod
    def load(cls, db_path: Path) -> Journal | None:
        path = cls.path_for(db_path)
        if not os.path.lexists(path):
            return None

        def damaged(detail: str) -> StoreError:
            return StoreError(Msg.STEP_NOT_RECOVERABLE, step=L("step", "opération"), path=str(path),
                              detail=L(f"the journal is damaged ({detail})", f"le journal est endommagé ({detail})"))

        try:
            raw = path.read_bytes()[: MAX_JOURNAL_BYTES + 1]
        except OSError as exc:
            raise damaged(exc.strerror or "unreadable") from None
        if len(raw) > MAX_JOURNAL_BYTES:
            raise damaged("too large")
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise damaged("not valid JSON") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise damaged("not a journal")
        checksum = document.pop("checksum", None)
        if checksum != cls._checksum(document):
            raise damaged("checksum mismatch")
        if not isinstance(document.get("data"), dict) or not isinstance(document.get("step"), str):
            raise damaged("missing fields")
        return cls(path, document["step"], str(document.get("id")), str(document.get("started_utc")),
                   document["data"])


@dataclass(frozen=True)
class Notice:
    """What the program says about a step it completed or undid when the site was opened."""

    completed: bool
    step: str
    started_utc: str

    def message(self, lang: Lang | None = None) -> str:
        from msc_sle_crf.clock import format_stored

        try:
            started = format_stored(self.started_utc, 0)
        except (ValueError, TypeError):
            started = self.started_utc
        msg = Msg.STEP_COMPLETED if self.completed else Msg.STEP_ROLLED_BACK
        return msg.render(lang, step=step_label(self.step), started=started)

    def audit_detail(self) -> str:
        return f"interrupted {self.step} (started {self.started_utc}) " + ("completed" if self.completed else
                                                                            "undone") + " at the next start"


def not_recoverable(journal: Journal, en: str, fr: str) -> StoreError:
    return StoreError(Msg.STEP_NOT_RECOVERABLE, step=step_label(journal.step), path=str(journal.path),
                      detail=L(en, fr))


AtOpen = Callable[[Path, Journal], "Notice | None"]  # None: the step needs the database (with_store runs later)
WithStore = Callable[["Site", Journal], Notice]


@dataclass(frozen=True)
class Recovery:
    at_open: AtOpen | None = None
    with_store: WithStore | None = None


RECOVERIES: dict[str, Recovery] = {}


def register(step: str, *, at_open: AtOpen | None = None, with_store: WithStore | None = None) -> None:
    RECOVERIES[step] = Recovery(at_open, with_store)


def recovery_for(journal: Journal) -> Recovery:
    recovery = RECOVERIES.get(journal.step)
    if recovery is None:
        raise not_recoverable(journal, f"this program does not know the step '{journal.step}'",
                              f"ce programme ne connaît pas l'opération « {journal.step} »")
    return recovery


# ----- file moves that are rolled forward: restore --------------------------------------------------------------
def _done(move: dict[str, Any]) -> bool:
    return not os.path.lexists(move["from"]) and os.path.lexists(move["to"])


def run_moves(moves: list[dict[str, Any]], *, resume: bool = False) -> None:
    """Do the moves (source -> target) in order. When resuming after a crash, the moves up to the last one that
    is visibly done (its source gone, its target there) are skipped: a later move may re-create an earlier
    source (the restored database takes the name the old one was moved from). An optional move whose source is
    missing (a WAL that was not there) is skipped; a required one is an error."""
    start = 0
    if resume:
        start = next((i + 1 for i in range(len(moves) - 1, -1, -1) if _done(moves[i])), 0)
    for move in moves[start:]:
        src, dst = Path(move["from"]), Path(move["to"])
        if not os.path.lexists(src):
            if move.get("optional") or os.path.lexists(dst):
                continue
            raise FileNotFoundError(str(src))
        if os.path.lexists(dst):
            raise FileExistsError(str(dst))
        os.replace(src, dst)
        fsync_dir(dst.parent)


def unique_aside(path: Path, tag: str) -> Path:
    """``name.<tag>`` next to ``path``, or ``name.<tag>-2``... when taken: a kept copy is never overwritten."""
    candidate = path.with_name(f"{path.name}.{tag}")
    n = 2
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.name}.{tag}-{n}")
        n += 1
    return candidate


def _pending(db_path: Path, notice: Notice) -> None:
    """Record a recovery in the key file; it enters the audit trail at the next sign-in."""
    from msc_sle_crf.clock import SystemClock, iso_utc
    from msc_sle_crf.security.keyslots import KeySlotFile

    keys = KeySlotFile.path_for(db_path)
    if not keys.exists():
        return
    keyfile = KeySlotFile.load(keys)
    keyfile.add_pending_event({"action": "step_recovered", "username": None, "role": None,
                               "detail": notice.audit_detail(), "ts_utc": iso_utc(SystemClock().now()),
                               "utc_offset_min": SystemClock().local_offset_minutes()})
    keyfile.save()


def _own(db_path: Path, journal: Journal, raw: object, prefixes: tuple[str, ...]) -> Path:
    """A path a journal names, accepted only when it is one of this site's own files: in the database's folder, its
    name starting with one the step makes. The journal has only a checksum (anyone who can write the folder can write
    one): without this, a planted journal would have the program move or delete any file or folder at the next start,
    before any password is asked, with the rights of whoever starts it."""
    path = Path(str(raw)) if isinstance(raw, str) and raw and "\x00" not in raw else None
    if path is None or os.path.realpath(path.parent) != os.path.realpath(db_path.parent) \
            or not path.name.startswith(prefixes) or path.name in (".", ".."):
        raise not_recoverable(journal, f"it names a file that is not this site's ({str(raw)[:200]})",
                              f"il désigne un fichier qui n'est pas de ce site ({str(raw)[:200]})")
    return path


def _checked_moves(db_path: Path, journal: Journal) -> list[dict[str, Any]]:
    moves = journal.data.get("moves")
    if not isinstance(moves, list):
        raise not_recoverable(journal, "its list of moves is damaged", "sa liste de déplacements est endommagée")
    own = (db_path.name, ".restore-")
    for move in moves:
        if not isinstance(move, dict):
            raise not_recoverable(journal, "its list of moves is damaged", "sa liste de déplacements est endommagée")
        _own(db_path, journal, move.get("from"), own)
        _own(db_path, journal, move.get("to"), own)
    return moves


def _recover_restore(db_path: Path, journal: Journal) -> Notice:
    moves = _checked_moves(db_path, journal)
    try:
        run_moves(moves, resume=True)
    except (OSError, KeyError, TypeError) as exc:
        raise not_recoverable(journal, f"a file is not where the journal expects it ({exc})",
                              f"un fichier n'est pas là où le journal l'attend ({exc})") from None
    notice = Notice(True, journal.step, journal.started_utc)
    _pending(db_path, notice)
    journal.finish()
    return notice


def _recover_upgrade(db_path: Path, journal: Journal) -> Notice:
    """The copy taken before an upgrade: a half-written copy is removed (the upgrade itself is one transaction
    and runs again at the next sign-in if it did not commit)."""
    backup = _own(db_path, journal, journal.data.get("backup"), (f"{db_path.name}.before-upgrade-",))
    temporary = [_own(db_path, journal, tmp, (f".{db_path.name}.before-upgrade-",))
                 for tmp in journal.data.get("temporary", [])]
    complete = backup.exists() and Path(f"{backup}.keys").exists() and not journal.data.get("copying", True)
    for tmp in temporary:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    if not complete:
        for half in (backup, Path(f"{backup}.keys")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(half)
    notice = Notice(complete, journal.step, journal.started_utc)
    _pending(db_path, notice)
    journal.finish()
    return notice


def _recover_init(db_path: Path, journal: Journal) -> Notice:
    """A site whose recovery code was never shown is undone: nothing was entered in it yet."""
    from msc_sle_crf.security.keyslots import KeySlotFile

    raw = journal.data.get("workdir")
    workdir = _own(db_path, journal, raw, (f".{db_path.name}.init-",)) if raw else None
    if workdir is not None and not re.fullmatch(rf"\.{re.escape(db_path.name)}\.init-\d+", workdir.name):
        raise not_recoverable(journal, f"it names a file that is not this site's ({str(raw)[:200]})",
                              f"il désigne un fichier qui n'est pas de ce site ({str(raw)[:200]})")
    # Moved aside, never deleted: a journal can be planted beside a site in use, and nothing entered may be lost.
    stamp = journal.started_utc.replace(":", "").replace("-", "")[:15] or "unknown"
    for leftover in (db_path, KeySlotFile.path_for(db_path), Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        if os.path.lexists(leftover):
            os.replace(leftover, unique_aside(leftover, f"abandoned-init-{stamp}"))
    if workdir is not None and workdir.is_dir() and not workdir.is_symlink():
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    journal.finish()
    return Notice(False, journal.step, journal.started_utc)


register("restore", at_open=_recover_restore)
register("upgrade", at_open=_recover_upgrade)
register("init", at_open=_recover_init)


def recover_at_open(db_path: Path) -> Notice | None:
    """Complete or undo an interrupted file step before the site is read. None when there was none (or when the
    step waits for the database key: see ``Site``)."""
    journal = Journal.load(db_path)
    if journal is None:
        return None
    recovery = recovery_for(journal)
    if recovery.at_open is None:
        return None
    return recovery.at_open(db_path, journal)
