"""One program at a time per database: an OS-level exclusive lock on '<db>.lock'.

The lock is released by the OS when the process ends, even on SIGKILL, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from msc_sle_crf.errors import Msg, StoreError


class InstanceLock:
    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        # The lock file sits beside the REAL database: a symbolic link (or another spelling of the path) to the same
        # database takes the same lock (issue 14).
        self.path = Path(f"{os.path.realpath(db_path)}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            from msc_sle_crf.i18n import L

            reason = exc.strerror or str(exc)
            raise StoreError(Msg.DB_PATH_INVALID, path=str(self.db_path),
                             reason=L(f"cannot create the lock file beside it ({reason}); the folder must be "
                                      f"writable", f"impossible de créer le fichier de verrou à côté ({reason}) ; "
                                      f"le dossier doit être accessible en écriture")) from None
        try:
            if os.name == "nt":  # pragma: no cover - exercised on Windows only
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(Msg.DB_IN_USE, path=str(self.db_path)) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
