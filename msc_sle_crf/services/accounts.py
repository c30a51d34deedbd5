"""User accounts: add, disable, reset a password, change one's own password, list.

Each account's key slot (the database key wrapped under its password) lives in the key file; the account row and
the audit record live in the database. A change touches both: the key file is saved first and put back if the
audited change does not commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import AuthenticationError, Msg, ValidationError
from msc_sle_crf.security.keyslots import KIND_USER, normalize_secret, normalize_username
from msc_sle_crf.security.policy import check_password_policy, temporary_password, validate_new_user
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.store.site import Actor
from msc_sle_crf.store.tables import AppUser


@dataclass(frozen=True)
class UserInfo:
    username: str
    full_name: str
    role: Role
    active: bool
    must_change_password: bool
    has_key_slot: bool
    locked: bool


@dataclass(frozen=True)
class IssuedPassword:
    """A new account or a reset: the password to hand over (once), and what changed."""

    username: str
    password: str
    changes: Changes


class Accounts:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # ----- one's own password ------------------------------------------------------------------------------
    def change_password(self, current: str, new: str) -> Changes:
        """Re-wrap this user's slot under a new password. Needs the current password."""
        ctx = self.ctx
        check_password_policy(new, ctx.actor.username)
        if normalize_secret(current) == normalize_secret(new):
            raise ValidationError(Msg.PASSWORD_UNCHANGED)
        key = ctx.site.keyfile.unwrap(KIND_USER, ctx.actor.username, normalize_secret(current))
        if key is None:
            ctx.audit_alone(Action.LOGIN_FAILED, detail="wrong current password at password change")
            raise AuthenticationError(Msg.BAD_CREDENTIALS)
        changes = self._rewrap(ctx.actor.username, new, key, Action.PASSWORD_CHANGE, must_change=False)
        a = ctx.actor
        ctx.actor = Actor(a.user_id, a.username, a.full_name, a.role, False)
        return changes

    def _rewrap(self, username: str, password: str, key: bytes, action: Action, *, must_change: bool,
                detail: str | None = None) -> Changes:
        site = self.ctx.site
        keyfile = site.keyfile
        old_slot = keyfile.find(KIND_USER, username)
        keyfile.set_slot(KIND_USER, username, normalize_secret(password), key, self.ctx.now())
        keyfile.attempts.pop(username, None)
        keyfile.save()
        try:
            with self.ctx.write() as tx:
                user = tx.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
                user.must_change_password = must_change
                tx.audit(action, item=username, detail=detail)
        except BaseException:
            site.restore_slot(username, old_slot)
            raise
        return tx.changes

    # ----- other accounts ----------------------------------------------------------------------------------
    def add_user(self, username: str, full_name: str, role: str, *, initial_password: str | None = None,
                 must_change_password: bool = True) -> IssuedPassword:
        """Create an account; its initial password is a one-time password unless one is given."""
        ctx = self.ctx
        ctx.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        role_value = validate_new_user(username, full_name, role)
        if initial_password is not None:
            check_password_policy(initial_password, username)
        with ctx.read() as session:
            if session.execute(select(AppUser.id).where(AppUser.username == username)).first():
                raise ValidationError(Msg.USER_EXISTS, user=username)
        password = initial_password if initial_password is not None else temporary_password()
        keyfile = ctx.site.keyfile
        keyfile.set_slot(KIND_USER, username, normalize_secret(password), ctx.store.key, ctx.now())
        keyfile.save()
        try:
            with ctx.write() as tx:
                tx.session.add(AppUser(username=username, full_name=full_name.strip(), role=role_value.value,
                                       active=True, must_change_password=must_change_password, created_utc=ctx.now()))
                tx.audit(Action.USER_ADD, item=username, new_value=json.dumps(
                    {"username": username, "full_name": full_name.strip(), "role": role_value.value},
                    ensure_ascii=False))
        except BaseException:
            ctx.site.restore_slot(username, None)
            raise
        return IssuedPassword(username, password, tx.changes)

    def reset_password(self, username: str) -> IssuedPassword:
        """An administrator gives a user a new one-time password."""
        self.ctx.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        self._active_user(username)
        password = temporary_password()
        changes = self._rewrap(username, password, self.ctx.store.key, Action.PASSWORD_RESET, must_change=True,
                               detail="one-time password issued by an administrator")
        return IssuedPassword(username, password, changes)

    def _active_user(self, username: str) -> AppUser:
        with self.ctx.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
        if user is None or not user.active:
            raise ValidationError(Msg.USER_UNKNOWN, user=username)
        return user

    def disable_user(self, username: str, reason: str) -> Changes:
        """Deactivate an account and remove its key slot. Its audit history stays."""
        ctx = self.ctx
        ctx.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        if username == ctx.actor.username:
            raise ValidationError(Msg.CANNOT_DISABLE_SELF)
        user = self._active_user(username)
        if user.role == Role.ADMIN.value:
            with ctx.read() as session:
                admins = session.execute(select(func.count()).select_from(AppUser).where(
                    AppUser.role == Role.ADMIN.value, AppUser.active.is_(True))).scalar_one()
            if admins <= 1:
                raise ValidationError(Msg.LAST_ADMIN, user=username)
        keyfile = ctx.site.keyfile
        old_slot = keyfile.find(KIND_USER, username)
        keyfile.remove_slot(KIND_USER, username)
        keyfile.save()
        try:
            with ctx.write() as tx:
                row = tx.session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
                row.active = False
                row.disabled_utc = ctx.now()
                tx.audit(Action.USER_DISABLE, item=username, old_value="active", new_value="disabled",
                         reason=reason.strip())
        except BaseException:
            ctx.site.restore_slot(username, old_slot)
            raise
        return tx.changes

    def list_users(self) -> list[UserInfo]:
        ctx = self.ctx
        ctx.require(Perm.MANAGE_USERS)
        keyfile = ctx.site.keyfile
        now = ctx.clock.now()
        with ctx.read() as session:
            rows = session.execute(select(AppUser).order_by(AppUser.username)).scalars().all()
            result = []
            for u in rows:
                attempt = keyfile.attempts.get(u.username)
                locked = attempt is not None and attempt.lock_remaining(now) is not None
                result.append(UserInfo(u.username, u.full_name, Role(u.role), u.active, u.must_change_password,
                                       keyfile.find(KIND_USER, u.username) is not None, locked))
        return result
