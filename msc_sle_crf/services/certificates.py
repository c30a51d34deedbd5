"""The site CA and the personal certificates it issues (issue 14, item 6): shared by the accounts service (an
administrator issues certificates) and printing (a user signs with theirs)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import select, text

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.security import ca
from msc_sle_crf.security.keyslots import KIND_RECOVERY, KIND_USER
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.store.site import CA_CERT_SETTING, CA_KEY_SETTING, RECOVERY_ACCOUNT
from msc_sle_crf.store.tables import AppUser, Certificate, SiteSetting


def ensure_ca(ctx: ServiceContext) -> str:
    """The site CA's certificate; a site from before the CA gets one at an administrator's first need of it."""
    with ctx.read() as session:
        row = session.get(SiteSetting, CA_CERT_SETTING)
        if row is not None:
            _check_recorded(session, row.value)
            return row.value
    if ctx.actor.role.value != "admin":
        raise ValidationError(Msg.CA_MISSING)
    ctx.require(Perm.MANAGE_USERS)
    with ctx.read() as session:
        name = session.get(SiteSetting, "site_name")
    ca_pem, key = ca.new_ca(name.value if name else "MSC-SLE site", ctx.site.keyfile.db_id, ctx.clock.now())
    store_ca(ctx, ca_pem, key, "site CA created (ECDSA P-256); its key sealed to the administrators and the "
                                "recovery code")
    return ca_pem


# The last record of the site CA: its creation with the site, or its replacement by an administrator. Both are
# site records (no subject, no form: the program writes them so, ``store.site`` and ``store_ca``), so the look-up
# goes through the trail's (subject, form, item) index instead of reading the whole trail backwards to its first
# record (~0.9 s on a 500-subject trial, three times per signed print). ``tests/test_pdf.py`` checks the plan.
RECORDED_CA_SQL = (
    "SELECT action, new_value, EXISTS (SELECT 1 FROM app_user u WHERE u.username = signer AND u.role = 'admin') "
    "FROM (SELECT id, action, new_value, signer FROM audit_event WHERE subject IS NULL AND form IS NULL "
    "AND item = 'site CA' AND action = 'certificate' "
    "UNION ALL SELECT id, action, new_value, signer FROM audit_event WHERE subject IS NULL AND form IS NULL "
    "AND item IS NULL AND action = 'site_init') AS recorded ORDER BY id DESC LIMIT 1")  # PostgreSQL needs the alias


def _check_recorded(session: Any, ca_pem: str) -> None:
    """The CA in the settings must be the last one recorded in the trail (at site creation, or replaced by an
    administrator): a CA put there with raw SQL would make the insider's PDFs verify as anyone's. ``verify`` also
    checks who recorded it (replay)."""
    found = ca.fingerprint(ca_pem)
    recorded: str | None = None
    for action, new_value, by_admin in session.execute(text(RECORDED_CA_SQL)):
        if not by_admin:
            recorded = "(a change by someone who is not an administrator)"
        elif action == "site_init":
            try:
                recorded = json.loads(new_value or "{}").get("ca_fingerprint")
            except ValueError:
                recorded = None
        else:
            recorded = new_value
    if recorded is not None and recorded != found:
        raise ValidationError(Msg.CA_NOT_IN_TRAIL, found=found[:23] + "…", recorded=recorded[:23] + "…")


def store_ca(ctx: ServiceContext, ca_pem: str, key: Any, detail: str) -> None:
    """Keep the CA certificate and its key sealed to every administrator's and the recovery code's personal key, then
    issue every account a personal certificate from it."""
    keyfile = ctx.site.keyfile
    with ctx.read() as session:
        admins = {u.username for u in session.execute(select(AppUser).where(
            AppUser.role == "admin", AppUser.active.is_(True))).scalars()}
    sealed = {}
    for slot in keyfile.slots:
        if slot.publics is None:
            continue
        if slot.kind == KIND_RECOVERY:
            sealed[RECOVERY_ACCOUNT] = ca.seal_key(key, slot.publics.box, keyfile.db_id, RECOVERY_ACCOUNT)
        elif slot.user in admins:
            sealed[slot.user] = ca.seal_key(key, slot.publics.box, keyfile.db_id, slot.user)
    now = ctx.now()
    with ctx.write() as tx:
        for name, value in ((CA_CERT_SETTING, ca_pem), (CA_KEY_SETTING, json.dumps(sealed, sort_keys=True))):
            row = tx.session.get(SiteSetting, name)
            if row is None:
                tx.session.add(SiteSetting(key=name, value=value, updated_utc=now))
            else:
                row.value, row.updated_utc = value, now
        tx.audit(Action.CERTIFICATE, item="site CA", new_value=ca.fingerprint(ca_pem), detail=detail)
    signer = ctx.site.signer(ctx.actor.username)
    for slot in keyfile.slots:
        if slot.kind == KIND_USER and slot.user and slot.publics is not None and slot.publics.pdf is not None:
            ctx.site.issue_certificate(slot.user, signer, signer.keys, ctx.actor.role.value)


def current_certificate(ctx: ServiceContext, username: str, ca_pem: str) -> str | None:
    """The newest certificate of ``username`` that the current CA issued for their current PDF key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    slot = ctx.site.keyfile.find(KIND_USER, username)
    if slot is None or slot.publics is None or slot.publics.pdf is None:
        return None
    ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
    with ctx.read() as session:
        rows = session.execute(select(Certificate.cert_pem).where(Certificate.username == username)
                               .order_by(Certificate.id.desc())).scalars().all()
    for pem in rows:
        cert = x509.load_pem_x509_certificate(pem.encode())
        if cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) != slot.publics.pdf:
            continue
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return str(pem)
    return None
