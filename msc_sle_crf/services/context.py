"""The public seam of the service layer: what every service receives.

A ``ServiceContext`` is one signed-in user at one open site: who acts (``actor``), what they may do
(``require``), the clock, and the two ways to touch the database: ``read()`` for a read transaction and
``write()`` for a write transaction (a ``Tx``) whose ``audit()`` appends to the audit trail in the same
transaction and collects the change record the write returns. Services never reach into each other: what they
share is this context and the read helpers in ``reads``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.access import Perm, Role, allowed
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, iso_utc, local_now
from msc_sle_crf.errors import AuthenticationError, Msg, PermissionDenied
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.security.keyslots import KIND_USER
from msc_sle_crf.services.changes import Change, Changes
from msc_sle_crf.store.db import Store, Writing, writing_of
from msc_sle_crf.store.site import Actor, Site
from msc_sle_crf.sync.ownership import NotOwner


class Tx:
    """One write transaction: its session, ``audit()`` inside it, and what it changed."""

    def __init__(self, ctx: ServiceContext, work: Writing) -> None:
        self.ctx = ctx
        self._work = work
        self._changes: list[Change] = []
        self._entries: list[AuditEntry] = []
        self.last_record: tuple[int, str, str] | None = None  # (id, hash, time) of the last audit record written

    @property
    def session(self) -> Session:
        """The transaction's ORM session (made at first use: a value save needs none)."""
        return self._work.session

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for Core and driver statements."""
        return self._work.connection

    def audit(self, action: Action, **kwargs: Any) -> None:
        """Append an audit record by the acting user, in this transaction."""
        actor = self.ctx.actor
        self.record(AuditEntry(action, actor.username, actor.role.value, **kwargs))

    def record(self, entry: AuditEntry) -> None:
        """Append an audit record as given (another author: a sign-in, a takeover, a second checker). The records
        reach the trail together when the transaction ends, the last one signed by the session's user."""
        self._entries.append(entry)
        self._changes.append(Change.of(entry.action, subject=entry.subject, visit=entry.visit, form=entry.form,
                                       item=entry.item, repeat_key=entry.repeat_key, new_value=entry.new_value))

    def seal(self) -> None:
        """The transaction's audit records, written and signed (THE one place where a service's trail is signed)."""
        if not self._entries:
            return
        signer = self.ctx.site.signer(self.ctx.actor.username)
        into = self.session if self._work.session_made else self.connection  # a value save: no session
        written = audit.append_many(into, self.ctx.clock, self.ctx.site.workstation, self._entries, signer)
        if any(str(e.action) in audit.BINDING_ACTIONS for e in self._entries):
            self.ctx.site.binding_epoch += 1
        self._entries = []
        last = written[-1]
        self.last_record = (int(last["id"]), str(last["hash"]), str(last["ts_utc"]))

    @property
    def changes(self) -> Changes:
        return Changes(tuple(self._changes))


class ServiceContext:
    """One signed-in user at one open site."""

    def __init__(self, site: Site, actor: Actor) -> None:
        if site.store is None:
            raise AuthenticationError(Msg.NOT_SIGNED_IN)
        self.site = site
        self.actor = actor
        self.locked = False  # the screen is locked: nothing can be read or written until the user is back
        self.ended = False  # the account was disabled while signed in: this session can do nothing more
        self._directory: audit.KeyDirectory | None = None
        self._directory_epoch = -1
        # transactions open through this context, per thread (a refusal is audited when the outermost one ends)
        self._open = threading.local()

    # ----- where and when --------------------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        assert self.site.store is not None
        return self.site.store

    @property
    def clock(self) -> Clock:
        return self.site.clock

    def now(self) -> str:
        """The current time as stored (UTC, ISO)."""
        return iso_utc(self.clock.now())

    def local_now(self) -> dt.datetime:
        """The workstation's wall-clock time (naive), as read at the bedside and typed into forms."""
        return local_now(self.clock)

    def to_local(self, wall: dt.datetime) -> dt.datetime:
        return (wall + dt.timedelta(minutes=self.clock.local_offset_minutes())).replace(tzinfo=None)

    # ----- the keys the trail binds -------------------------------------------------------------------------------
    def key_directory(self) -> audit.KeyDirectory:
        """Accounts and their public keys over time, from the trail's (checked) binding transactions. Kept until
        this program binds a key again (one program per database: nobody else writes meanwhile)."""
        if self._directory is None or self._directory_epoch != self.site.binding_epoch:
            self._directory_epoch = self.site.binding_epoch
            from msc_sle_crf.store.key_change import key_change

            with key_change(self.site).reading(lambda: None):  # never with the key of before a re-key: it waits
                conn = self.store.raw_connection()
                try:
                    self._directory = audit.directory_of(conn)
                finally:
                    conn.close()
        return self._directory

    def forget_directory(self) -> None:
        self._directory = None

    # ----- who may do what -------------------------------------------------------------------------------------
    def can(self, perm: Perm) -> bool:
        return allowed(self.actor.role, perm)

    def check_session(self, *, own_draft: bool = False) -> None:
        """The session may act now: its account is still enabled (a disabled account's open session ends at its
        next action), and the screen is not locked, except to keep the locking user's own draft.

        Cheap: the account is enabled while its key slot is in the key file, which is held in memory (one program
        per database: disabling an account removes its slot in this same process), and no disable made on another
        workstation holds for it here (issue 18: read once per account, again after a packet is imported)."""
        username = self.actor.username
        if self.ended or self.site.keyfile.find(KIND_USER, username) is None \
                or self.site.disabled_elsewhere(username) is not None:
            if not self.ended:
                self.ended = self.locked = True
                self.audit_alone(Action.ACCESS_DENIED, detail="session ended: the account was disabled")
            raise AuthenticationError(Msg.ACCOUNT_DISABLED)
        if self.locked and not own_draft:
            raise AuthenticationError(Msg.SCREEN_LOCKED)

    def require(self, perm: Perm, *, subject: str | None = None) -> None:
        """Refuse (and audit the refusal) unless the signed-in user may do this now."""
        self.check_session()
        if self.actor.must_change_password:
            raise AuthenticationError(Msg.PASSWORD_CHANGE_REQUIRED)
        if not self.can(perm):
            self.audit_alone(Action.ACCESS_DENIED, subject=subject, detail=f"permission '{perm.value}' refused")
            raise PermissionDenied(Msg.PERMISSION_DENIED, role=role_l(self.actor.role),
                                   action=L(perm.describe(Lang.EN), perm.describe(Lang.FR)))

    # ----- transactions ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _refusals(self) -> Iterator[None]:
        """A write refused because another workstation owns the subject (issue 18) is audited like any refused
        action, in its own transaction once the one it was refused in has ended (and rolled back)."""
        depth = getattr(self._open, "n", 0)
        self._open.n = depth + 1
        try:
            yield
        except NotOwner as exc:
            if depth == 0 and not exc.audited:
                exc.audited = True
                self._open.n = 0
                self.audit_alone(Action.ACCESS_DENIED, subject=str(exc.params.get("subject")),
                                 detail=exc.audit_detail())
            raise
        finally:
            self._open.n = depth

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._refusals(), self.store.read() as session:
            yield session

    @contextlib.contextmanager
    def write(self, *, data: bool = True) -> Iterator[Tx]:
        """One unit of work: the change and its audit records commit together or not at all. ``data=False``: it
        changes no clinical data or form state (see ``Store.write``)."""
        with self._refusals(), writing_of(self.store, data=data) as work:
            tx = Tx(self, work)
            yield tx
            tx.seal()
        if tx.last_record is not None:  # committed: the trail head is noted outside the WAL (store/head.py)
            self.site.note_head(*tx.last_record)

    def audit_alone(self, action: Action, **kwargs: Any) -> Changes:
        """An event with nothing else to write (a refusal, a print, a lock): audited in its own transaction."""
        with self.write(data=False) as tx:
            tx.audit(action, **kwargs)
        return tx.changes


def role_l(role: Role) -> L:
    return L(role.label(Lang.EN), role.label(Lang.FR))
