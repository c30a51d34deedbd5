"""What an electronic signature's own signature covers, and its check (issue 14, item 3): shared by the lifecycle
(signing, the display) and the integrity check (``verify`` checks every signature row)."""

from __future__ import annotations

import json
from typing import Any

from msc_sle_crf.i18n import L
from msc_sle_crf.security.personal import unb64
from msc_sle_crf.security.personal import verify as verify_signature
from msc_sle_crf.store.tables import FormInstance, Signature
from msc_sle_crf.sync.identity import ID_BLOCK, ws_id

SIGNATURE_CONTEXT = b"msc-sle-crf/e-signature/v1\x00"
NOT_SIGNERS = L("INVALID: the signature is not the signer's (forged or edited record)",
                "INVALIDE : la signature n'est pas celle du signataire (enregistrement falsifié ou modifié)")
DATA_CHANGED = L("INVALID: the data changed after signing", "INVALIDE : les données ont changé après la signature")


def signature_message(db_id: str, subject: str, instance: FormInstance, row: Signature) -> bytes:
    """What the signer's personal key signs: the content hash AND who, as whom, what it means, when, and which form
    of which subject under which definition (issue 14: the content hash alone covers only the values)."""
    return SIGNATURE_CONTEXT + json.dumps({
        "db": db_id, "subject": subject, "instance": instance.id, "event": instance.event_id, "form": instance.form_id,
        "form_version": instance.form_version, "form_hash": instance.form_hash, "content_hash": row.content_hash,
        "username": row.username, "user_id": row.user_id, "printed_name": row.printed_name, "role": row.role,
        "meaning": row.meaning, "signed_utc": row.signed_utc, "utc_offset_min": row.utc_offset_min,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature_holds(directory: Any, db_id: str, subject: str, instance: FormInstance, row: Signature) -> bool:
    """The row's signature is the named signer's, with the key bound to them when they signed."""
    account = directory.get(row.username)
    if account is None or not row.sig:
        return False
    try:
        raw = unb64(row.sig)
    except ValueError:
        return False
    message = signature_message(db_id, subject, instance, row)
    # with the keys bound on the workstation that made the row (its id is in that workstation's block, issue 18)
    keys = directory.keys_for(row.username, ws_id((int(row.id) - 1) // ID_BLOCK + 1), row.signed_utc) \
        if row.id and 0 < int(row.id) <= 99 * ID_BLOCK else account.keys_at_time(row.signed_utc)
    return any(verify_signature(k.sign, raw, message) for k in keys)


def row_holds(session: Any, directory: Any, *, db_id: str, subject: str, instance: FormInstance,
              row: Signature) -> bool:
    """``verify``'s rule for one signature row, also applied to those a packet brings (issue 18): the signer's own
    signature over the row (``signature_holds``); a row without one only if it was made before personal keys (its
    SIGN record, with the content hash, precedes the first signed record of the trail)."""
    if row.sig is not None:
        return signature_holds(directory, db_id, subject, instance, row)
    from sqlalchemy import select

    from msc_sle_crf.audit import Action
    from msc_sle_crf.store.tables import AuditEvent

    legacy = session.execute(select(AuditEvent.id).where(
        AuditEvent.action == Action.SIGN.value, AuditEvent.subject == subject,
        AuditEvent.visit == instance.event_id, AuditEvent.form == instance.form_id,
        AuditEvent.detail.like(f"%sha256: {row.content_hash}%"),
        AuditEvent.id < (directory.signed_from or 1 << 62)).limit(1)).first()
    return legacy is not None
