"""User accounts: add, disable, reset a password, change one's own password, list.

Each account's key slot (the database key wrapped under its password) lives in the key file; the account row and
the audit record live in the database. A change touches both: the key file is saved first and put back if the
audited change does not commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.errors import AuthenticationError, Msg, ValidationError
from msc_sle_crf.security import ca
from msc_sle_crf.security.keyslots import KIND_USER, Slot, normalize_secret, normalize_username
from msc_sle_crf.security.personal import PersonalKeys, PublicKeys
from msc_sle_crf.security.policy import (
    FULL_NAME,
    MAX_FULL_NAME,
    check_name,
    check_password_policy,
    check_text,
    temporary_password,
    validate_new_user,
)
from msc_sle_crf.services.certificates import ensure_ca
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.services.limits import MAX_REASON, REASON
from msc_sle_crf.store import rekey
from msc_sle_crf.store.site import CA_KEY_SETTING, RECOVERY_ACCOUNT, Actor, apply_account_change, keys_json
from msc_sle_crf.store.tables import AppUser, SiteSetting
from msc_sle_crf.sync import secret as packet_secret


@dataclass(frozen=True)
class UserInfo:
    username: str
    full_name: str
    role: Role
    active: bool
    must_change_password: bool
    has_key_slot: bool
    locked: bool
    disabled_on: str | None = None  # enabled here, but disabled on that workstation: it cannot sign in (issue 18)


@dataclass(frozen=True)
class IssuedPassword:
    """A new account or a reset: the password to hand over (once), and what changed."""

    username: str
    password: str
    changes: Changes


class Accounts:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.last_rotation: rekey.Rotation | None = None  # what the last disable or rotation did (for the screen)
        # the one-time code of the site's packet secret renewed by the last disable or rotation (i18-secret): the
        # screen or the command shows it once and forgets it (``take_packet_code``); never stored
        self.packet_code: str | None = None

    def take_packet_code(self) -> str | None:
        code, self.packet_code = self.packet_code, None
        return code

    # ----- one's own password ------------------------------------------------------------------------------
    def change_password(self, current: str, new: str) -> Changes:
        """Re-wrap this user's slot under a new password. Needs the current password."""
        ctx = self.ctx
        check_password_policy(new, ctx.actor.username)
        if normalize_secret(current) == normalize_secret(new):
            raise ValidationError(Msg.PASSWORD_UNCHANGED)
        unlocked = ctx.site.keyfile.unlock(KIND_USER, ctx.actor.username, normalize_secret(current))
        if unlocked is None or unlocked.keys is None:
            ctx.audit_alone(Action.LOGIN_FAILED, detail="wrong current password at password change")
            raise AuthenticationError(Msg.BAD_CREDENTIALS)
        # New signing and sealing keys with every password change (so that keys an administrator made with a
        # one-time password are not the user's for long), bound by the old signing key; the PDF key stays.
        keys = unlocked.keys.replace_signing()
        changes = self._rewrap(ctx.actor.username, new, unlocked.db_key, Action.PASSWORD_CHANGE, must_change=False,
                               keys=keys)
        ctx.site.remember_signer(ctx.actor.username, keys)
        a = ctx.actor
        ctx.actor = Actor(a.user_id, a.username, a.full_name, a.role, False)
        return changes

    def _entry(self, action: Action, **kwargs: str | None) -> AuditEntry:
        actor = self.ctx.actor
        return AuditEntry(action, actor.username, actor.role.value, **kwargs)  # type: ignore[arg-type]

    def _credential_change(self, username: str, slot: Slot | None, change: dict[str, Any],
                           entries: list[AuditEntry], if_interrupted: str) -> Changes:
        """The key-file change and the audited account change as one crash-safe step (see Site.credential_step)."""
        site = self.ctx.site
        with site.credential_step(username, slot, change, entries, if_interrupted=if_interrupted) as tagged, \
                self.ctx.write() as tx:
            apply_account_change(tx.session, change, self.ctx.now())
            for entry in tagged:
                tx.record(entry)
        return tx.changes

    def _rewrap(self, username: str, password: str, key: bytes, action: Action, *, must_change: bool,
                detail: str | None = None, if_interrupted: str = "complete", keys: PersonalKeys | None = None
                ) -> Changes:
        slot = self.ctx.site.keyfile.make_slot(KIND_USER, username, normalize_secret(password), key, self.ctx.now(),
                                               keys=keys)
        assert slot.publics is not None
        change = {"op": "update", "username": username, "fields": {"must_change_password": must_change}}
        entries = [self._entry(action, item=username, detail=detail),
                   self._entry(Action.KEY_BIND, item=username, new_value=json.dumps({"keys": keys_json(slot.publics)}),
                               detail="personal keys for the new password")]
        return self._credential_change(username, slot, change, entries, if_interrupted)

    def issue_certificate(self, username: str) -> bool:
        """Issue ``username`` a personal PDF certificate from the site CA (administrators: their keys open it)."""
        ctx = self.ctx
        ctx.require(Perm.MANAGE_USERS)
        ensure_ca(ctx)
        signer = ctx.site.signer(ctx.actor.username)
        return ctx.site.issue_certificate(username, signer, signer.keys, ctx.actor.role.value)

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
        clean_name = check_name(full_name, FULL_NAME, max_chars=MAX_FULL_NAME)
        slot = ctx.site.keyfile.make_slot(KIND_USER, username, normalize_secret(password), ctx.store.key, ctx.now())
        change = {"op": "add", "username": username, "fields": {
            "full_name": clean_name, "role": role_value.value, "active": True,
            "must_change_password": must_change_password}}
        assert slot.publics is not None
        entry = self._entry(Action.USER_ADD, item=username, new_value=json.dumps(
            {"username": username, "full_name": clean_name, "role": role_value.value,
             "keys": keys_json(slot.publics), "must_change_password": must_change_password}, ensure_ascii=False))
        # A one-time password nobody has seen yet is undone after a crash; a chosen one is completed.
        changes = self._credential_change(username, slot, change, [entry],
                                          "complete" if initial_password is not None else "undo")
        self.issue_certificate(username)
        return IssuedPassword(username, password, changes)

    def reset_password(self, username: str) -> IssuedPassword:
        """An administrator gives a user a new one-time password."""
        self.ctx.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        self._active_user(username)
        password = temporary_password()
        changes = self._rewrap(username, password, self.ctx.store.key, Action.PASSWORD_RESET, must_change=True,
                               detail="one-time password issued by an administrator", if_interrupted="undo")
        self.issue_certificate(username)
        return IssuedPassword(username, password, changes)

    def enable_user(self, username: str, reason: str) -> IssuedPassword:
        """Enable a disabled account again: a new key slot under a one-time password (its old password opens
        nothing since the disabling re-keyed the database), new personal keys bound by this administrator. Also an
        account disabled on another workstation (issue 18): an enable made here after it lifts it here."""
        ctx = self.ctx
        ctx.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        if not reason.strip():
            raise ValidationError(Msg.ENABLE_REASON_REQUIRED)
        reason = check_text(reason, REASON, max_chars=MAX_REASON)
        with ctx.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
        if user is None:
            raise ValidationError(Msg.USER_UNKNOWN, user=username)
        if user.active and ctx.site.disabled_elsewhere(username) is None:
            raise ValidationError(Msg.USER_ALREADY_ACTIVE, user=username)
        password = temporary_password()
        slot = ctx.site.keyfile.make_slot(KIND_USER, username, normalize_secret(password), ctx.store.key, ctx.now())
        assert slot.publics is not None
        change = {"op": "update", "username": username, "fields": {
            "active": True, "must_change_password": True, "disabled_utc": None}}
        entries = [self._entry(Action.USER_ENABLE, item=username, old_value="disabled", new_value="active",
                               reason=reason),
                   self._entry(Action.KEY_BIND, item=username, new_value=json.dumps({"keys": keys_json(slot.publics)}),
                               detail="personal keys for the one-time password of the enabled account")]
        changes = self._credential_change(username, slot, change, entries, "undo")
        self.issue_certificate(username)
        return IssuedPassword(username, password, changes)

    def _active_user(self, username: str) -> AppUser:
        with self.ctx.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
        if user is None or not user.active:
            raise ValidationError(Msg.USER_UNKNOWN, user=username)
        return user

    def check_disable(self, username: str, reason: str) -> tuple[str, str]:
        """Everything that would refuse ``disable_user``, checked at once (the screen asks this before the long
        re-key runs in the background). Returns the clean user name and reason."""
        ctx = self.ctx
        ctx.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        if not reason.strip():
            raise ValidationError(Msg.DISABLE_REASON_REQUIRED)
        reason = check_text(reason, REASON, max_chars=MAX_REASON)
        if username == ctx.actor.username:
            raise ValidationError(Msg.CANNOT_DISABLE_SELF)
        user = self._active_user(username)
        if user.role == Role.ADMIN.value:
            with ctx.read() as session:
                admins = session.execute(select(func.count()).select_from(AppUser).where(
                    AppUser.role == Role.ADMIN.value, AppUser.active.is_(True))).scalar_one()
            if admins <= 1:
                raise ValidationError(Msg.LAST_ADMIN, user=username)
        return username, reason

    def disable_user(self, username: str, reason: str, progress: rekey.Progress | None = None) -> Changes:
        """Deactivate an account and remove its key slot. Its audit history stays."""
        ctx = self.ctx
        username, reason = self.check_disable(username, reason)
        change = {"op": "update", "username": username, "fields": {"active": False, "disabled_utc": ctx.now()}}
        entry = self._entry(Action.USER_DISABLE, item=username, old_value="active", new_value="disabled",
                            reason=reason)
        changes = self._credential_change(username, None, change, [entry], "complete")
        # Revocation that revokes: the database gets a new key the disabled account's password never opens.
        problems = rekey.blockers(ctx.site.keyfile, ctx.key_directory(), username)
        why = f"disable of {username}: {reason}"
        if problems:
            self.last_rotation = None
            self._renew_packet_secret(why)
            ctx.audit_alone(Action.KEY_ROTATION, item=username, detail="not rotated: " + "; ".join(problems)[:1500])
            return changes
        return changes | self._rotate(username, progress, why)

    def rotate_keys(self, progress: rekey.Progress | None = None) -> rekey.Rotation:
        """An administrator's "Rotate keys": a new database key, sealed to every account (revokes any older key
        file, old password or copied key)."""
        ctx = self.ctx
        ctx.require(Perm.MANAGE_USERS)
        problems = rekey.blockers(ctx.site.keyfile, ctx.key_directory(), None)
        if problems:
            raise rekey.refuse(problems)
        self._rotate(None, progress, "Rotate keys")
        assert self.last_rotation is not None
        return self.last_rotation

    def _packet_secret_args(self) -> dict[str, Any]:
        ctx = self.ctx
        return {"clock": ctx.clock, "workstation_label": ctx.site.workstation,
                "signer": ctx.site.signer(ctx.actor.username), "username": ctx.actor.username,
                "role": ctx.actor.role.value, "db_key": ctx.store.key, "db_id": ctx.site.keyfile.db_id}

    def _renew_packet_secret(self, why: str) -> None:
        """A new generation of the site's packet secret, under this database's (new) key, and its one-time code
        (i18-secret: a copy of another workstation's database taken before reads none of the packets under it)."""
        with self.ctx.write(data=False) as tx:
            self.packet_code = packet_secret.renew(tx.session, **self._packet_secret_args(), why=why)

    def _rotate(self, removed: str | None, progress: rekey.Progress | None, why: str) -> Changes:
        ctx = self.ctx
        self.packet_code = None
        with ctx.write(data=False) as tx:  # a site forked before the secret: its shared key, from the key of now
            packet_secret.ensure(tx.session, **self._packet_secret_args())
        rotation = rekey.rotate(ctx.site, remove=removed, progress=progress,
                                drop=rekey.strays(ctx.site.keyfile, ctx.key_directory()))
        self.last_rotation = rotation
        self._renew_packet_secret(why)
        if rotation.recovery_slot is not None and rotation.recovery_slot.publics is not None:
            self._bind_new_recovery(rotation.recovery_slot.publics)
        changes = ctx.audit_alone(Action.KEY_ROTATION, item=removed, new_value=str(len(rotation.accounts)), detail=(
            f"database re-keyed in {rotation.seconds:.1f} s ({rotation.size_bytes:,} bytes); new key sealed to "
            f"{', '.join(rotation.accounts)}" + (f"; removed: {removed}" if removed else "")
            + (f"; older key files re-wrapped: {', '.join(p.name for p in rotation.stale_rewrapped)}"
               if rotation.stale_rewrapped else "")
            + (f"; older key files removed: {', '.join(p.name for p in rotation.stale_removed)}"
               if rotation.stale_removed else "")
            + (f"; key slots of no active account dropped (the key file was edited, or left over): "
               f"{', '.join(rotation.dropped)}" if rotation.dropped else ""))[:2000])
        ctx.site.anchor_audit()
        return changes

    def _bind_new_recovery(self, publics: PublicKeys) -> None:
        """The new recovery code's keys bound in the trail (by this administrator), and the CA key sealed to it."""
        ctx = self.ctx
        with ctx.write() as tx:
            tx.audit(Action.KEY_BIND, item=RECOVERY_ACCOUNT, new_value=json.dumps({"keys": keys_json(publics)}),
                     detail="a new recovery code replaced the older site's (shown once to the administrator)")
            row = tx.session.get(SiteSetting, CA_KEY_SETTING)
            if row is not None:
                sealed = json.loads(row.value)
                signer = ctx.site.signer(ctx.actor.username)
                ca_key = ca.open_key(sealed.get(ctx.actor.username, ""), signer.keys.box, ctx.site.keyfile.db_id,
                                     ctx.actor.username) if sealed.get(ctx.actor.username) else None
                if ca_key is not None:
                    sealed[RECOVERY_ACCOUNT] = ca.seal_key(ca_key, publics.box, ctx.site.keyfile.db_id,
                                                           RECOVERY_ACCOUNT)
                    row.value = json.dumps(sealed, sort_keys=True)

    def list_users(self) -> list[UserInfo]:
        ctx = self.ctx
        ctx.require(Perm.MANAGE_USERS)
        keyfile = ctx.site.keyfile
        now = ctx.clock.now()
        with ctx.read() as session:
            rows = session.execute(select(AppUser).order_by(AppUser.username)).scalars().all()
            result = []
            for u in rows:
                attempt = keyfile.attempts.get(keyfile.account_tag(u.username))
                locked = attempt is not None and attempt.lock_remaining(now) is not None
                elsewhere = ctx.site.disabled_elsewhere(u.username, session) if u.active else None
                result.append(UserInfo(u.username, u.full_name, Role(u.role), u.active, u.must_change_password,
                                       keyfile.find(KIND_USER, u.username) is not None, locked,
                                       elsewhere.ws if elsewhere is not None else None))
        return result
