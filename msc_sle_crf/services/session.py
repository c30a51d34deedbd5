"""The service layer: every write goes through here.

Each operation checks the signed-in user's role, validates, changes the data and appends the audit record in
one transaction. A refused action raises a clear error and is itself audited. Results are plain frozen objects,
never ORM instances, so they can cross threads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.access import Perm, Role, allowed
from msc_sle_crf.audit import Action, AuditEntry, VerifyResult
from msc_sle_crf.clock import iso_utc
from msc_sle_crf.errors import AuthenticationError, Msg, PermissionDenied, ValidationError
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.security.keyslots import KIND_USER, normalize_secret, normalize_username
from msc_sle_crf.services.passwords import check_password_policy, temporary_password
from msc_sle_crf.services.settings import READ_ONLY_SETTINGS, validate_setting
from msc_sle_crf.services.users import validate_new_user
from msc_sle_crf.store.db import Store, integrity_problems
from msc_sle_crf.store.site import Actor, Site
from msc_sle_crf.store.tables import AppUser, AuditEvent, Draft, SiteSetting, Subject


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
class SubjectInfo:
    subject_number: str
    initials: str
    birth_year: int
    sex: str
    status: str
    created_utc: str


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts_utc: str
    utc_offset_min: int
    username: str | None
    role: str | None
    workstation: str
    action: str
    subject: str | None
    item: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None
    detail: str | None

    @classmethod
    def of(cls, e: AuditEvent) -> AuditRecord:
        return cls(e.id, e.ts_utc, e.utc_offset_min, e.username, e.role, e.workstation, e.action, e.subject, e.item,
                   e.old_value, e.new_value, e.reason, e.detail)


@dataclass(frozen=True)
class IntegrityReport:
    page_problems: tuple[str, ...]
    audit: VerifyResult

    @property
    def ok(self) -> bool:
        return not self.page_problems and self.audit.ok


INITIALS = L("Initials", "Initiales")
BIRTH_YEAR = L("Year of birth", "Année de naissance")
SEX = L("Sex", "Sexe")


class Services:
    """Operations on behalf of one signed-in user."""

    def __init__(self, site: Site, actor: Actor) -> None:
        if site.store is None:
            raise AuthenticationError(Msg.NOT_SIGNED_IN)
        self.site = site
        self.actor = actor
        self.locked = False

    @classmethod
    def sign_in(cls, site: Site, username: str, password: str) -> Services:
        return cls(site, site.sign_in(username, password))

    @property
    def store(self) -> Store:
        assert self.site.store is not None
        return self.site.store

    # ----- plumbing ----------------------------------------------------------------------------------------
    def _entry(self, action: Action, **kwargs: Any) -> AuditEntry:
        return AuditEntry(action, self.actor.username, self.actor.role.value, **kwargs)

    def _audit(self, session: Session, action: Action, **kwargs: Any) -> None:
        audit.append(session, self.site.clock, self.site.workstation, self._entry(action, **kwargs))

    def _audit_alone(self, action: Action, **kwargs: Any) -> None:
        with self.store.write() as session:
            self._audit(session, action, **kwargs)

    def can(self, perm: Perm) -> bool:
        return allowed(self.actor.role, perm)

    def require(self, perm: Perm, *, subject: str | None = None) -> None:
        if self.locked:
            raise AuthenticationError(Msg.NOT_SIGNED_IN)
        if self.actor.must_change_password:
            raise AuthenticationError(Msg.PASSWORD_CHANGE_REQUIRED)
        if not self.can(perm):
            self._audit_alone(Action.ACCESS_DENIED, subject=subject, detail=f"permission '{perm.value}' refused")
            role = self.actor.role
            raise PermissionDenied(Msg.PERMISSION_DENIED,
                                   role=L(role.label(Lang.EN), role.label(Lang.FR)),
                                   action=L(perm.describe(Lang.EN), perm.describe(Lang.FR)))

    def _now(self) -> str:
        return iso_utc(self.site.clock.now())

    # ----- session lifecycle -------------------------------------------------------------------------------
    def lock(self) -> None:
        """The screen is locked: data stays open for running timers, nothing can be read or written."""
        if not self.locked:
            self._audit_alone(Action.LOCK)
            self.locked = True
            self.site.anchor_audit()

    def unlock(self, password: str) -> None:
        """The same user comes back."""
        actor = self.site.authenticate(self.actor.username, password)
        self.actor = actor
        self.locked = False
        self._audit_alone(Action.UNLOCK)

    def switch_user(self, username: str, password: str) -> Services:
        """Another user takes over the locked workstation."""
        actor = self.site.authenticate(username, password)
        other = Services(self.site, actor)
        with self.store.write() as session:
            audit.append(session, self.site.clock, self.site.workstation, AuditEntry(
                Action.USER_SWITCH, actor.username, actor.role.value,
                detail=f"took over from {self.actor.username}"))
            audit.append(session, self.site.clock, self.site.workstation,
                         AuditEntry(Action.LOGIN, actor.username, actor.role.value))
        self.locked = True
        return other

    def logout(self) -> None:
        self._audit_alone(Action.LOGOUT)
        self.locked = True
        self.site.anchor_audit()

    # ----- passwords ---------------------------------------------------------------------------------------
    def change_password(self, current: str, new: str) -> None:
        """Re-wrap this user's slot under a new password. Needs the current password."""
        check_password_policy(new, self.actor.username)
        if normalize_secret(current) == normalize_secret(new):
            raise ValidationError(Msg.PASSWORD_UNCHANGED)
        keyfile = self.site.keyfile
        key = keyfile.unwrap(KIND_USER, self.actor.username, normalize_secret(current))
        if key is None:
            self._audit_alone(Action.LOGIN_FAILED, detail="wrong current password at password change")
            raise AuthenticationError(Msg.BAD_CREDENTIALS)
        self._rewrap(self.actor.username, new, key, Action.PASSWORD_CHANGE, must_change=False)
        self.actor = Actor(self.actor.user_id, self.actor.username, self.actor.full_name, self.actor.role, False)

    def _rewrap(self, username: str, password: str, key: bytes, action: Action, *, must_change: bool,
                detail: str | None = None) -> None:
        keyfile = self.site.keyfile
        old_slot = keyfile.find(KIND_USER, username)
        keyfile.set_slot(KIND_USER, username, normalize_secret(password), key, self._now())
        keyfile.attempts.pop(username, None)
        keyfile.save()
        try:
            with self.store.write() as session:
                user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
                user.must_change_password = must_change
                self._audit(session, action, item=username, detail=detail)
        except BaseException:
            self.site.restore_slot(username, old_slot)
            raise

    # ----- users -------------------------------------------------------------------------------------------
    def add_user(self, username: str, full_name: str, role: str, *, initial_password: str | None = None,
                 must_change_password: bool = True) -> str:
        """Create an account; returns its initial password (a one-time password unless one is given)."""
        self.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        role_value = validate_new_user(username, full_name, role)
        if initial_password is not None:
            check_password_policy(initial_password, username)
        with self.store.read() as session:
            if session.execute(select(AppUser.id).where(AppUser.username == username)).first():
                raise ValidationError(Msg.USER_EXISTS, user=username)
        password = initial_password if initial_password is not None else temporary_password()
        keyfile = self.site.keyfile
        keyfile.set_slot(KIND_USER, username, normalize_secret(password), self.store.key, self._now())
        keyfile.save()
        try:
            with self.store.write() as session:
                session.add(AppUser(username=username, full_name=full_name.strip(), role=role_value.value,
                                    active=True, must_change_password=must_change_password,
                                    created_utc=self._now()))
                self._audit(session, Action.USER_ADD, item=username, new_value=json.dumps(
                    {"username": username, "full_name": full_name.strip(), "role": role_value.value},
                    ensure_ascii=False))
        except BaseException:
            self.site.restore_slot(username, None)
            raise
        return password

    def reset_password(self, username: str) -> str:
        """An administrator gives a user a new one-time password."""
        self.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        self._active_user(username)
        password = temporary_password()
        self._rewrap(username, password, self.store.key, Action.PASSWORD_RESET, must_change=True,
                     detail="one-time password issued by an administrator")
        return password

    def _active_user(self, username: str) -> AppUser:
        with self.store.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
        if user is None or not user.active:
            raise ValidationError(Msg.USER_UNKNOWN, user=username)
        return user

    def disable_user(self, username: str, reason: str) -> None:
        """Deactivate an account and remove its key slot. Its audit history stays."""
        self.require(Perm.MANAGE_USERS)
        username = normalize_username(username)
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        if username == self.actor.username:
            raise ValidationError(Msg.CANNOT_DISABLE_SELF)
        user = self._active_user(username)
        if user.role == Role.ADMIN.value:
            with self.store.read() as session:
                admins = session.execute(select(func.count()).select_from(AppUser).where(
                    AppUser.role == Role.ADMIN.value, AppUser.active.is_(True))).scalar_one()
            if admins <= 1:
                raise ValidationError(Msg.LAST_ADMIN, user=username)
        keyfile = self.site.keyfile
        old_slot = keyfile.find(KIND_USER, username)
        keyfile.remove_slot(KIND_USER, username)
        keyfile.save()
        try:
            with self.store.write() as session:
                row = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
                row.active = False
                row.disabled_utc = self._now()
                self._audit(session, Action.USER_DISABLE, item=username, old_value="active", new_value="disabled",
                            reason=reason.strip())
        except BaseException:
            self.site.restore_slot(username, old_slot)
            raise

    def list_users(self) -> list[UserInfo]:
        self.require(Perm.MANAGE_USERS)
        keyfile = self.site.keyfile
        now = self.site.clock.now()
        with self.store.read() as session:
            rows = session.execute(select(AppUser).order_by(AppUser.username)).scalars().all()
            result = []
            for u in rows:
                attempt = keyfile.attempts.get(u.username)
                locked = attempt is not None and attempt.lock_remaining(now) is not None
                result.append(UserInfo(u.username, u.full_name, Role(u.role), u.active, u.must_change_password,
                                       keyfile.find(KIND_USER, u.username) is not None, locked))
        return result

    # ----- site settings -----------------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        """Readable by every signed-in user (site name and lock delay are shown to all)."""
        with self.store.read() as session:
            return {row.key: row.value for row in session.execute(select(SiteSetting)).scalars()}

    def set_setting(self, key: str, value: str) -> None:
        self.require(Perm.EDIT_SITE_SETTINGS)
        if key in READ_ONLY_SETTINGS:
            raise ValidationError(Msg.SETTING_UNKNOWN, key=key)
        clean = validate_setting(key, value)
        with self.store.write() as session:
            row = session.get(SiteSetting, key)
            old = row.value if row else None
            if old == clean:
                return
            if row is None:
                session.add(SiteSetting(key=key, value=clean, updated_utc=self._now()))
            else:
                row.value = clean
                row.updated_utc = self._now()
            self._audit(session, Action.SETTING_CHANGE, item=key, old_value=old, new_value=clean)

    # ----- subjects ----------------------------------------------------------------------------------------
    def list_subjects(self) -> list[SubjectInfo]:
        self.require(Perm.VIEW_DATA)
        with self.store.read() as session:
            rows = session.execute(select(Subject).order_by(Subject.subject_number)).scalars().all()
            return [SubjectInfo(s.subject_number, s.initials, s.birth_year, s.sex, s.status, s.created_utc)
                    for s in rows]

    def register_subject(self, initials: str, birth_year: int | str, sex: str) -> SubjectInfo:
        """Register a subject at screening; the subject number is the site number and a sequence."""
        self.require(Perm.REGISTER_SUBJECT)
        clean_initials = initials.strip().upper()
        if not clean_initials:
            raise ValidationError(Msg.FIELD_REQUIRED, field=INITIALS)
        if not re.fullmatch(r"[A-Z]{2,3}", clean_initials):
            raise ValidationError(Msg.FIELD_PATTERN, field=INITIALS,
                                  rule=L("2 or 3 letters A-Z", "2 ou 3 lettres A-Z"))
        this_year = self.site.clock.now().year
        try:
            year = int(str(birth_year).strip())
        except ValueError:
            raise ValidationError(Msg.FIELD_RANGE, field=BIRTH_YEAR, low=1900, high=this_year) from None
        if not 1900 <= year <= this_year:
            raise ValidationError(Msg.FIELD_RANGE, field=BIRTH_YEAR, low=1900, high=this_year)
        clean_sex = sex.strip().upper()
        if clean_sex not in ("F", "M"):
            raise ValidationError(Msg.FIELD_PATTERN, field=SEX, rule=L("F or M", "F ou M"))
        with self.store.write() as session:
            site_number = session.get(SiteSetting, "site_number")
            prefix = site_number.value if site_number else "01"
            count = session.execute(select(func.count()).select_from(Subject)).scalar_one()
            number = f"{prefix}-{count + 1:03d}"
            subject = Subject(subject_number=number, initials=clean_initials, birth_year=year, sex=clean_sex,
                              status="screening", created_utc=self._now(), created_by=self.actor.user_id)
            session.add(subject)
            self._audit(session, Action.CREATE, subject=number, form="subject", new_value=json.dumps(
                {"initials": clean_initials, "birth_year": year, "sex": clean_sex}, sort_keys=True))
            session.flush()
            return SubjectInfo(number, clean_initials, year, clean_sex, "screening", subject.created_utc)

    # ----- drafts ------------------------------------------------------------------------------------------
    def save_draft(self, draft_key: str, payload: dict[str, Any], *, audited: bool = True) -> None:
        """Keep unfinished input (encrypted, per user). Audited as a draft entry, except the keystroke buffer
        of a form (``audited=False``): text not accepted yet is not data, and each accepted value is audited."""
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        with self.store.write() as session:
            row = session.execute(select(Draft).where(Draft.user_id == self.actor.user_id,
                                                      Draft.draft_key == draft_key)).scalar_one_or_none()
            if row is not None and row.payload == text:
                return
            old = row.payload if row else None
            if row is None:
                session.add(Draft(user_id=self.actor.user_id, draft_key=draft_key, payload=text,
                                  updated_utc=self._now()))
            else:
                row.payload = text
                row.updated_utc = self._now()
            if audited:
                self._audit(session, Action.DRAFT_SAVE, form=draft_key[:64], old_value=old, new_value=text)

    def load_draft(self, draft_key: str) -> dict[str, Any] | None:
        with self.store.read() as session:
            row = session.execute(select(Draft).where(Draft.user_id == self.actor.user_id,
                                                      Draft.draft_key == draft_key)).scalar_one_or_none()
            return None if row is None else dict(json.loads(row.payload))

    def discard_draft(self, draft_key: str, *, audited: bool = True) -> None:
        with self.store.write() as session:
            row = session.execute(select(Draft).where(Draft.user_id == self.actor.user_id,
                                                      Draft.draft_key == draft_key)).scalar_one_or_none()
            if row is None:
                return
            if audited:
                self._audit(session, Action.DRAFT_DISCARD, form=draft_key[:64], old_value=row.payload)
            session.delete(row)

    # ----- audit and integrity -----------------------------------------------------------------------------
    def audit_trail(self, *, limit: int = 200, before_id: int | None = None) -> list[AuditRecord]:
        self.require(Perm.VIEW_AUDIT)
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        with self.store.read() as session:
            return [AuditRecord.of(e) for e in session.execute(query).scalars()]

    def verify_integrity(self, *, full: bool = True) -> IntegrityReport:
        """SQLCipher page check, SQLite structure check and the audit hash chain. The check is audited."""
        self.require(Perm.VERIFY_AUDIT)
        conn = self.store.raw_connection()
        try:
            problems = tuple(integrity_problems(conn, full=full))
            result = audit.verify_connection(conn, self.site.keyfile.audit_anchor)
        finally:
            conn.close()
        report = IntegrityReport(problems, result)
        detail = "ok" if report.ok else (
            f"pages: {'; '.join(problems[:3])}" if problems else f"record #{result.first_bad_id}: {result.problem}")
        self._audit_alone(Action.AUDIT_VERIFY, detail=f"{result.records} records checked: {detail}")
        if report.ok:
            self.site.anchor_audit()
        return report

    def record_export(self, action: Action, path: Path, what: str) -> None:
        """Audit a file leaving the database (export, print, backup)."""
        self._audit_alone(action, detail=f"{what} -> {path.name}")
