"""Form lifecycle after completion: source-verified (monitor), signed (investigator, electronic signature),
locked; and unlocking, which needs the right role and a reason. Every transition is audited.

Electronic signatures (21 CFR 11.50, 11.70, 11.200): the signer types their user name and password again and
chooses a meaning; the record holds the printed name, role, date and time with the UTC offset, the meaning and the
SHA-256 of the canonical content signed. A signature is valid while the content still hashes the same: any later
change of the signed data makes it invalid wherever it is shown (the change itself audits the invalidation).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import iso_utc, offset_text, stored_local
from msc_sle_crf.errors import AuthenticationError, CrfError, Msg, PermissionDenied, ValidationError
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.security.personal import b64
from msc_sle_crf.services import limits, reads
from msc_sle_crf.services.changes import NO_CHANGES, Changes
from msc_sle_crf.services.context import ServiceContext, role_l
from msc_sle_crf.services.entry import DataEntry, FormIncomplete, FormRef, unsaved_issue
from msc_sle_crf.services.esign import DATA_CHANGED, NOT_SIGNERS, signature_holds, signature_message
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.tables import AuditEvent, FormInstance, FormRow, ItemValue, Signature
from msc_sle_crf.sync import merge


class LifecycleAction(StrEnum):
    """What can be done to a form after completion, each by the roles allowed to."""

    VERIFY = "verify"
    SIGN = "sign"
    LOCK = "lock"
    UNLOCK = "unlock"


@dataclass(frozen=True)
class SignatureInfo:
    printed_name: str
    username: str
    role: str
    meaning: str
    meaning_label: L
    signed_local: dt.datetime
    utc_offset_min: int
    content_hash: str
    valid: bool
    changes: Changes = NO_CHANGES  # set when returned by ``sign``
    authentic: bool = True  # the signer's personal signature holds (False: forged or edited row)

    def manifestation(self, lang: Lang | None = None) -> str:
        """What every display and printout shows (21 CFR 11.50)."""
        offset = offset_text(self.utc_offset_min)
        state = L("valid", "valide") if self.valid else NOT_SIGNERS if not self.authentic else DATA_CHANGED
        return (f"{self.printed_name} ({Role(self.role).label(lang or Lang.EN)}), "
                f"{self.signed_local:%d/%m/%Y %H:%M:%S} {offset}, {self.meaning_label.get(lang)} — {state.get(lang)}")


def content_hash(session: Session, instance: FormInstance) -> str:
    """SHA-256 of what a signature covers: the form, its definition, and every value (removed rows excluded)."""
    removed = {(r.group_id, r.row_no) for r in session.execute(select(FormRow).where(
        FormRow.instance_id == instance.id, FormRow.removed.is_(True))).scalars()}
    values = sorted(
        (v.group_id, v.row_no, v.item_id, v.value, v.unit, v.missing_code, v.missing_reason)
        for v in session.execute(select(ItemValue).where(ItemValue.instance_id == instance.id)).scalars()
        if (v.group_id, v.row_no) not in removed and (v.value is not None or v.missing_code is not None))
    canonical = json.dumps({"form": instance.form_id, "version": instance.form_version,
                            "definition": instance.form_hash, "event": instance.event_id, "values": values},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _recorded_before_signing(session: Session, signed_from: int | None, ref: FormRef, digest: str) -> bool:
    """A signature row from before personal keys: its SIGN record must be in the part of the trail that precedes
    signing (nobody can add one there any more)."""
    query = select(AuditEvent.id).where(AuditEvent.action == Action.SIGN.value, AuditEvent.subject == ref.subject,
                                        AuditEvent.visit == ref.event, AuditEvent.form == ref.form,
                                        AuditEvent.detail.like(f"%sha256: {digest}%"))
    if signed_from is not None:
        query = query.where(AuditEvent.id < signed_from)
    return session.execute(query.limit(1)).first() is not None


def _wrong_state(status: str | None) -> ValidationError:
    return ValidationError(Msg.FORM_WRONG_STATE, state=FormStatus.of(status).as_l())


class Lifecycle:
    def __init__(self, ctx: ServiceContext, study: StudyDef, entry: DataEntry) -> None:
        self.ctx = ctx
        self.study = study
        self.entry = entry

    def _load(self, session: Session, ref: FormRef) -> FormInstance:
        subject = reads.writable_subject(session, ref.subject)
        instance = reads.instance(session, subject.id, ref.event, ref.form)
        if instance is None:
            raise _wrong_state(None)
        return instance

    def _move(self, ref: FormRef, wanted: set[FormStatus], new: FormStatus, action: Action, *,
              reason: str | None = None, detail: str | None = None) -> Changes:
        with self.ctx.write() as tx:
            instance = self._load(tx.session, ref)
            if instance.status not in wanted:
                raise _wrong_state(instance.status)
            old = instance.status
            instance.status = new.value
            instance.updated_utc = self.ctx.now()
            tx.audit(action, subject=ref.subject, visit=ref.event, form=ref.form, old_value=old, new_value=new.value,
                     reason=reason, detail=detail)
        return tx.changes

    # ----- what this user can do now -----------------------------------------------------------------------------
    def available(self, status: FormStatus) -> frozenset[LifecycleAction]:
        """The lifecycle actions this user may take on a form in this state (the screen offers just these)."""
        can = self.ctx.can
        out = set()
        if status is FormStatus.COMPLETE and can(Perm.VERIFY_SOURCE_DATA):
            out.add(LifecycleAction.VERIFY)
        if status in (FormStatus.COMPLETE, FormStatus.VERIFIED) and can(Perm.SIGN_INVESTIGATOR_FORMS) \
                and self.ctx.actor.role.value in self.study.meta.signatures.roles:
            out.add(LifecycleAction.SIGN)
        if status is FormStatus.SIGNED and can(Perm.LOCK_FORMS):
            out.add(LifecycleAction.LOCK)
        if status is FormStatus.LOCKED and self.may_unlock():
            out.add(LifecycleAction.UNLOCK)
        return frozenset(out)

    # ----- transitions -------------------------------------------------------------------------------------------
    def source_verify(self, ref: FormRef) -> Changes:
        """The monitor checked the form against the source documents."""
        self.ctx.require(Perm.VERIFY_SOURCE_DATA, subject=ref.subject)
        return self._move(ref, {FormStatus.COMPLETE}, FormStatus.VERIFIED, Action.SOURCE_VERIFIED)

    def sign(self, ref: FormRef, username: str, password: str, meaning: str) -> SignatureInfo:
        """Sign with user name and password again (both components, 21 CFR 11.200) and a meaning."""
        self.ctx.require(Perm.SIGN_INVESTIGATOR_FORMS, subject=ref.subject)
        rules = self.study.meta.signatures
        actor = self.ctx.actor
        if actor.role.value not in rules.roles:
            raise PermissionDenied(Msg.PERMISSION_DENIED, role=role_l(actor.role),
                                   action=L("sign this form", "signer ce formulaire"))
        meanings = {m.code: m for m in rules.meanings}
        if meaning not in meanings:
            raise ValidationError(Msg.SIGNATURE_MEANING_UNKNOWN, choices=", ".join(meanings))
        if username.strip().lower() != actor.username:
            self.ctx.audit_alone(Action.SIGN_FAILED, subject=ref.subject, visit=ref.event, form=ref.form,
                                 detail=f"user name typed: {self.ctx.site.shown_name(username.strip())}")
            raise AuthenticationError(Msg.SIGNER_MISMATCH, user=actor.username)
        try:
            self.ctx.site.authenticate(actor.username, password)
        except CrfError:
            self.ctx.audit_alone(Action.SIGN_FAILED, subject=ref.subject, visit=ref.event, form=ref.form,
                                 detail="wrong password")
            raise
        snapshot = self.entry.open_form(ref)
        state = snapshot.state
        # A value the signer typed and has not saved (the screen shows it, the data does not): refused as
        # "Mark complete" refuses it. A hidden field's typing blocks nothing.
        blockers = state.blockers()
        blocked = {issue.key for issue in blockers}  # a refused typed value is listed once, with its rule
        blockers += [unsaved_issue(snapshot.form, key) for key in snapshot.typed
                     if key in state.cells and key not in blocked and state.visible(key)
                     and not snapshot.form.item(key[2]).calc]
        if blockers:
            raise FormIncomplete(blockers)
        clock = self.ctx.clock
        now = clock.now()
        offset = clock.local_offset_minutes()
        with self.ctx.write() as tx:
            session = tx.session
            instance = self._load(session, ref)
            if instance.status not in (FormStatus.COMPLETE, FormStatus.VERIFIED):
                raise _wrong_state(instance.status)
            digest = content_hash(session, instance)
            row = Signature(instance_id=instance.id, user_id=actor.user_id, username=actor.username,
                            printed_name=actor.full_name, role=actor.role.value, meaning=meaning,
                            signed_utc=iso_utc(now), utc_offset_min=offset, content_hash=digest)
            signer = self.ctx.site.signer(actor.username)  # the keys the password just typed opened
            row.sig = b64(signer.sign(signature_message(self.ctx.site.keyfile.db_id, ref.subject, instance, row)))
            session.add(row)
            old = instance.status
            instance.status = FormStatus.SIGNED.value
            tx.audit(Action.SIGN, subject=ref.subject, visit=ref.event, form=ref.form, old_value=old,
                     new_value=FormStatus.SIGNED.value, detail=f"meaning: {meaning}; sha256: {digest}")
        signed = self.signatures(ref)[-1]
        return replace(signed, changes=tx.changes)

    def lock(self, ref: FormRef) -> Changes:
        self.ctx.require(Perm.LOCK_FORMS, subject=ref.subject)
        return self._move(ref, {FormStatus.SIGNED}, FormStatus.LOCKED, Action.STATUS_CHANGE, detail="locked")

    def may_unlock(self) -> bool:
        """Whether this user's role may unlock forms and subjects (``lifecycle.unlock_roles`` in study.yaml)."""
        return self.ctx.actor.role.value in self.study.meta.signatures.unlock_roles

    def _require_unlock(self, subject: str) -> None:
        self.ctx.check_session()
        if not self.may_unlock():
            self.ctx.audit_alone(Action.ACCESS_DENIED, subject=subject, detail="unlock refused: role not in "
                                 "unlock_roles")
            raise PermissionDenied(Msg.PERMISSION_DENIED, role=role_l(self.ctx.actor.role),
                                   action=L("unlock a locked form or subject",
                                            "déverrouiller un formulaire ou un patient verrouillé"))

    def unlock(self, ref: FormRef, reason: str) -> Changes:
        """Unlock one form (with a reason); refused while the whole subject is locked."""
        self._require_unlock(ref.subject)
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        clean = limits.text(reason, limits.REASON, limits.MAX_REASON)
        return self._move(ref, {FormStatus.LOCKED}, FormStatus.SIGNED, Action.STATUS_CHANGE, reason=clean,
                          detail="unlocked")

    # ----- the whole subject ------------------------------------------------------------------------------------
    def lock_subject(self, subject_number: str) -> Changes:
        """At the end of the study: lock every form of the subject; all must be signed (or already locked)."""
        self.ctx.require(Perm.LOCK_FORMS, subject=subject_number)
        with self.ctx.write() as tx:
            session = tx.session
            subject = reads.subject(session, subject_number)
            instances = reads.instances(session, subject.id)
            unsigned = [f"{i.event_id}/{i.form_id} ({FormStatus(i.status).label()})" for i in instances
                        if i.status not in (FormStatus.SIGNED, FormStatus.LOCKED)]
            if unsigned:
                raise ValidationError(Msg.SUBJECT_NOT_READY, forms=", ".join(unsigned[:12])
                                      + (f" (+{len(unsigned) - 12})" if len(unsigned) > 12 else ""))
            for instance in instances:
                instance.status = FormStatus.LOCKED.value
            old = subject.status
            subject.status = "locked"
            tx.audit(Action.STATUS_CHANGE, subject=subject_number, form="subject", old_value=old, new_value="locked",
                     detail=f"{len(instances)} forms locked")
        return tx.changes

    def unlock_subject(self, subject_number: str, reason: str) -> Changes:
        self._require_unlock(subject_number)
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        reason = limits.text(reason, limits.REASON, limits.MAX_REASON)
        with self.ctx.write() as tx:
            subject = reads.subject(tx.session, subject_number)
            for instance in reads.instances(tx.session, subject.id):
                if instance.status == FormStatus.LOCKED:
                    instance.status = FormStatus.SIGNED.value
            # the stored status is the lock flag (the stage shown is computed: overview.stage_of): the value the
            # lock replaced comes back (a screening failure is not made "followed" by an unlock)
            before = tx.session.execute(select(AuditEvent.old_value).where(
                AuditEvent.action == Action.STATUS_CHANGE.value, AuditEvent.subject == subject_number,
                AuditEvent.form == "subject", AuditEvent.new_value == "locked").order_by(
                AuditEvent.id.desc()).limit(1)).scalar()
            restored = before if before and before != "locked" else "screening"
            subject.status = restored
            tx.audit(Action.STATUS_CHANGE, subject=subject_number, form="subject", old_value="locked",
                     new_value=restored, reason=reason.strip())
        return tx.changes

    # ----- reading ------------------------------------------------------------------------------------------------
    def signatures(self, ref: FormRef) -> list[SignatureInfo]:
        self.ctx.require(Perm.VIEW_DATA, subject=ref.subject)
        meanings = {m.code: m.label.as_l() for m in self.study.meta.signatures.meanings}
        with self.ctx.read() as session:
            subject = reads.subject(session, ref.subject)
            instance = reads.instance(session, subject.id, ref.event, ref.form)
            if instance is None:
                return []
            rows = session.execute(select(Signature).where(Signature.instance_id == instance.id)
                                   .order_by(Signature.id)).scalars().all()
            if not rows:  # an unsigned form: no content hash to compare with (a casebook has many)
                return []
            current = content_hash(session, instance)
            directory = self.ctx.key_directory()
            db_id = self.ctx.site.keyfile.db_id
            conflicts = merge.conflicts_of(session, instance.id)  # issue 18: a conflict voids the signatures
            out = []
            for r in rows:
                if r.sig is None:  # signed before personal keys: as good as the unsigned trail it is recorded in
                    authentic = _recorded_before_signing(session, directory.signed_from, ref, r.content_hash)
                else:
                    authentic = signature_holds(directory, db_id, ref.subject, instance, r)
                out.append(SignatureInfo(r.printed_name, r.username, r.role, r.meaning,
                                         meanings.get(r.meaning, L(r.meaning, r.meaning)),
                                         stored_local(r.signed_utc, r.utc_offset_min), r.utc_offset_min,
                                         r.content_hash, authentic and r.content_hash == current
                                         and not merge.voids(conflicts, r.signed_utc),
                                         authentic=authentic))
            return out
