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
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import iso_utc, parse_iso_utc
from msc_sle_crf.errors import AuthenticationError, CrfError, Msg, PermissionDenied, ValidationError
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.services.entry import (
    STATUS_COMPLETE,
    STATUS_LOCKED,
    STATUS_SIGNED,
    STATUS_VERIFIED,
    DataEntry,
    FormIncomplete,
    FormRef,
)
from msc_sle_crf.store.tables import FormInstance, FormRow, ItemValue, Signature

STATE_LABELS = {
    "not_started": L("not started", "non commencé"), "draft": L("in progress", "en cours de saisie"),
    STATUS_COMPLETE: L("complete", "complet"), STATUS_VERIFIED: L("source-verified", "vérifié (SDV)"),
    STATUS_SIGNED: L("signed", "signé"), STATUS_LOCKED: L("locked", "verrouillé"),
}


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

    def manifestation(self, lang: Lang | None = None) -> str:
        """What every display and printout shows (21 CFR 11.50)."""
        sign = "+" if self.utc_offset_min >= 0 else "-"
        offset = f"UTC{sign}{abs(self.utc_offset_min) // 60:02d}:{abs(self.utc_offset_min) % 60:02d}"
        state = L("valid", "valide") if self.valid else L("INVALID: the data changed after signing",
                                                          "INVALIDE : les données ont changé après la signature")
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


def _wrong_state(status: str) -> ValidationError:
    return ValidationError(Msg.FORM_WRONG_STATE, state=STATE_LABELS.get(status, L(status, status)))


class Lifecycle:
    def __init__(self, entry: DataEntry) -> None:
        self.entry = entry
        self.services = entry.services
        self.study = entry.study

    def _load(self, session: Session, ref: FormRef) -> FormInstance:
        subject = self.entry._subject(session, ref.subject)
        instance = self.entry._instance(session, subject, ref.event, ref.form)
        if instance is None:
            raise _wrong_state("not_started")
        return instance

    def _move(self, ref: FormRef, wanted: set[str], new: str, action: Action, *, reason: str | None = None,
              detail: str | None = None) -> None:
        with self.services.store.write() as session:
            instance = self._load(session, ref)
            if instance.status not in wanted:
                raise _wrong_state(instance.status)
            old = instance.status
            instance.status = new
            instance.updated_utc = self.services._now()
            self.services._audit(session, action, subject=ref.subject, visit=ref.event, form=ref.form,
                                 old_value=old, new_value=new, reason=reason, detail=detail)

    # ----- transitions -------------------------------------------------------------------------------------------
    def source_verify(self, ref: FormRef) -> None:
        """The monitor checked the form against the source documents."""
        self.services.require(Perm.VERIFY_SOURCE_DATA, subject=ref.subject)
        self._move(ref, {STATUS_COMPLETE}, STATUS_VERIFIED, Action.SOURCE_VERIFIED)

    def sign(self, ref: FormRef, username: str, password: str, meaning: str) -> SignatureInfo:
        """Sign with user name and password again (both components, 21 CFR 11.200) and a meaning."""
        self.services.require(Perm.SIGN_INVESTIGATOR_FORMS, subject=ref.subject)
        rules = self.study.meta.signatures
        actor = self.services.actor
        if actor.role.value not in rules.roles:
            raise PermissionDenied(Msg.PERMISSION_DENIED, role=L(actor.role.label(Lang.EN), actor.role.label(Lang.FR)),
                                   action=L("sign this form", "signer ce formulaire"))
        meanings = {m.code: m for m in rules.meanings}
        if meaning not in meanings:
            raise ValidationError(Msg.SIGNATURE_MEANING_UNKNOWN, choices=", ".join(meanings))
        if username.strip().lower() != actor.username:
            self.services._audit_alone(Action.SIGN_FAILED, subject=ref.subject, visit=ref.event, form=ref.form,
                                       detail=f"user name typed: {username.strip()[:64]}")
            raise AuthenticationError(Msg.SIGNER_MISMATCH, user=actor.username)
        try:
            self.services.site.authenticate(actor.username, password)
        except CrfError:
            self.services._audit_alone(Action.SIGN_FAILED, subject=ref.subject, visit=ref.event, form=ref.form,
                                       detail="wrong password")
            raise
        blockers = self.entry.open_form(ref).state.blockers()
        if blockers:
            raise FormIncomplete(blockers)
        clock = self.services.site.clock
        now = clock.now()
        offset = clock.local_offset_minutes()
        with self.services.store.write() as session:
            instance = self._load(session, ref)
            if instance.status not in (STATUS_COMPLETE, STATUS_VERIFIED):
                raise _wrong_state(instance.status)
            digest = content_hash(session, instance)
            session.add(Signature(instance_id=instance.id, user_id=actor.user_id, username=actor.username,
                                  printed_name=actor.full_name, role=actor.role.value, meaning=meaning,
                                  signed_utc=iso_utc(now), utc_offset_min=offset, content_hash=digest))
            old = instance.status
            instance.status = STATUS_SIGNED
            self.services._audit(session, Action.SIGN, subject=ref.subject, visit=ref.event, form=ref.form,
                                 old_value=old, new_value=STATUS_SIGNED,
                                 detail=f"meaning: {meaning}; sha256: {digest}")
        return self.signatures(ref)[-1]

    def lock(self, ref: FormRef) -> None:
        self.services.require(Perm.LOCK_FORMS, subject=ref.subject)
        self._move(ref, {STATUS_SIGNED}, STATUS_LOCKED, Action.STATUS_CHANGE, detail="locked")

    def unlock(self, ref: FormRef, reason: str) -> None:
        self.services.require(Perm.LOCK_FORMS, subject=ref.subject)
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        self._move(ref, {STATUS_LOCKED}, STATUS_SIGNED, Action.STATUS_CHANGE, reason=reason.strip(),
                   detail="unlocked")

    # ----- the whole subject ------------------------------------------------------------------------------------
    def lock_subject(self, subject_number: str) -> None:
        """At the end of the study: lock every form of the subject; all must be signed (or already locked)."""
        self.services.require(Perm.LOCK_FORMS, subject=subject_number)
        with self.services.store.write() as session:
            subject = self.entry._subject(session, subject_number)
            instances = list(session.execute(select(FormInstance).where(
                FormInstance.subject_id == subject.id)).scalars())
            unsigned = [f"{i.event_id}/{i.form_id} ({i.status})" for i in instances
                        if i.status not in (STATUS_SIGNED, STATUS_LOCKED)]
            if unsigned:
                raise ValidationError(Msg.SUBJECT_NOT_READY, forms=", ".join(unsigned[:12])
                                      + (f" (+{len(unsigned) - 12})" if len(unsigned) > 12 else ""))
            for instance in instances:
                instance.status = STATUS_LOCKED
            old = subject.status
            subject.status = "locked"
            self.services._audit(session, Action.STATUS_CHANGE, subject=subject_number, form="subject",
                                 old_value=old, new_value="locked", detail=f"{len(instances)} forms locked")

    def unlock_subject(self, subject_number: str, reason: str) -> None:
        self.services.require(Perm.LOCK_FORMS, subject=subject_number)
        if not reason.strip():
            raise ValidationError(Msg.REASON_REQUIRED)
        with self.services.store.write() as session:
            subject = self.entry._subject(session, subject_number)
            for instance in session.execute(select(FormInstance).where(
                    FormInstance.subject_id == subject.id, FormInstance.status == STATUS_LOCKED)).scalars():
                instance.status = STATUS_SIGNED
            subject.status = "followed"
            self.services._audit(session, Action.STATUS_CHANGE, subject=subject_number, form="subject",
                                 old_value="locked", new_value="followed", reason=reason.strip())

    # ----- reading ------------------------------------------------------------------------------------------------
    def signatures(self, ref: FormRef) -> list[SignatureInfo]:
        self.services.require(Perm.VIEW_DATA, subject=ref.subject)
        meanings = {m.code: m.label.as_l() for m in self.study.meta.signatures.meanings}
        with self.services.store.read() as session:
            subject = self.entry._subject(session, ref.subject)
            instance = self.entry._instance(session, subject, ref.event, ref.form)
            if instance is None:
                return []
            current = content_hash(session, instance)
            rows = session.execute(select(Signature).where(Signature.instance_id == instance.id)
                                   .order_by(Signature.id)).scalars().all()
            return [SignatureInfo(r.printed_name, r.username, r.role, r.meaning, meanings.get(r.meaning,
                                                                                            L(r.meaning, r.meaning)),
                                  (parse_iso_utc(r.signed_utc) + dt.timedelta(minutes=r.utc_offset_min)).replace(
                                      tzinfo=None), r.utc_offset_min, r.content_hash, r.content_hash == current)
                    for r in rows]
