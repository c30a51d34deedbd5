"""Printing: signed PDF case report forms (one form, a visit, a casebook, the blank annotated CRF), written
atomically where the user chose, audited. Long jobs report progress and can be cancelled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import format_stored, iso_utc
from msc_sle_crf.errors import Msg, StoreError, ValidationError
from msc_sle_crf.fileutil import atomic_write_bytes, safe_output_path
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L, Lang, current_lang
from msc_sle_crf.pdf import certificate
from msc_sle_crf.pdf.render import CrfDocument, FormPrint, PageInfo
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext, Tx
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.services.integrity import Integrity
from msc_sle_crf.services.lifecycle import Lifecycle
from msc_sle_crf.services.monitoring import CLOSED, Monitoring
from msc_sle_crf.services.settings import Settings
from msc_sle_crf.store.tables import AuditEvent, SiteSetting

Progress = Callable[[int, int], None]


class Printing:
    def __init__(self, ctx: ServiceContext, study: StudyDef, entry: DataEntry, lifecycle: Lifecycle,  # noqa: PLR0917
                 monitoring: Monitoring, settings: Settings, integrity: Integrity) -> None:
        self.ctx = ctx
        self.study = study
        self.entry = entry
        self.lifecycle = lifecycle
        self.monitoring = monitoring
        self.settings = settings
        self.integrity = integrity

    # ----- the site's certificate ------------------------------------------------------------------------------
    def certificate(self) -> tuple[str, str]:
        """(certificate PEM, encrypted key PEM): made with the site (or on first use for older sites), audited."""
        return site_certificate(self.ctx)

    def page_info(self, lang: Lang) -> PageInfo:
        """What every page of a printout says: study, site, when and by whom it was made."""
        settings = self.settings.all()
        clock = self.ctx.clock
        actor = self.ctx.actor
        stamp = format_stored(iso_utc(clock.now()), clock.local_offset_minutes(), seconds=False)
        by = {"en": "by", "fr": "par"}[lang.value]
        return PageInfo(self.study.meta.name, self.study.meta.protocol,
                        f"{settings.get('site_name', '')} ({settings.get('site_number', '')})",
                        f"{stamp} {by} {actor.full_name} ({actor.username})", lang)

    def _form_print(self, ref: FormRef, *, with_audit: bool) -> FormPrint:
        snap = self.entry.open_form(ref)
        lang = current_lang()
        queries: dict[tuple[str, int, str], int] = {}
        for q in self.monitoring.queries(ref):
            if q.status != CLOSED:
                queries[q.key] = queries.get(q.key, 0) + 1
        audit: list[tuple[str, str, str, str, str, str]] = []
        if with_audit:
            with self.ctx.read() as session:
                for e in session.execute(select(AuditEvent).where(
                        AuditEvent.subject == ref.subject, AuditEvent.visit == ref.event,
                        AuditEvent.form == ref.form).order_by(AuditEvent.id)).scalars():
                    audit.append((format_stored(e.ts_utc, e.utc_offset_min), f"{e.username} ({e.role})",
                                  f"{e.action} {e.item or ''}".strip(), e.old_value or "", e.new_value or "",
                                  e.reason or e.detail or ""))
        return FormPrint(ref.subject, snap.event.label.as_l(), ref.event, snap.form, snap.state,
                         snap.status.as_l(), [s.manifestation(lang) for s in self.lifecycle.signatures(ref)], queries,
                         audit)

    def _sign(self, pdf: bytes, what: str) -> bytes:
        cert_pem, key_pem = self.certificate()
        from msc_sle_crf.pdf import sign  # pyHanko loads when something is signed, not with every command

        return sign.sign(pdf, cert_pem, key_pem, certificate.passphrase_from(self.ctx.store.key),
                         reason=f"{self.study.meta.name} {what}", location=self.settings.get("site_name"))

    # ----- documents --------------------------------------------------------------------------------------------
    def form_pdf(self, ref: FormRef, *, with_audit: bool = False) -> bytes:
        self.ctx.require(Perm.PRINT, subject=ref.subject)
        pdf = CrfDocument(self.page_info(current_lang())).forms([self._form_print(ref, with_audit=with_audit)])
        return self._sign(pdf, f"CRF {ref.subject} {ref.event} {ref.form}")

    def casebook_pdf(self, subject: str, *, event: str | None = None, with_audit: bool = False,
                     progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> bytes:
        """Every started form of a subject (or of one visit), in visit order."""
        self.ctx.require(Perm.PRINT, subject=subject)
        events = [e.id for e in self.study.meta.events]
        if event is not None and event not in events:
            raise ValidationError(Msg.VISIT_UNKNOWN, visit=event, choices=", ".join(events))
        statuses = self.entry.statuses(subject)
        refs = [FormRef(subject, e.id, f) for e in self.study.meta.events if event in (None, e.id)
                for f in e.forms if (e.id, f) in statuses]
        if not refs:
            where = L(f" in visit {event}", f" à la visite {event}") if event else L("", "")
            raise ValidationError(Msg.NOTHING_TO_PRINT, subject=subject, where=where)
        prints = []
        for n, ref in enumerate(refs):
            if cancelled is not None and cancelled():
                from msc_sle_crf.pdf.render import Cancelled

                raise Cancelled
            if progress is not None:
                progress(n, len(refs) * 2)
            prints.append(self._form_print(ref, with_audit=with_audit))
        half = (lambda done, total: progress(len(refs) + done * len(refs) // max(total, 1), len(refs) * 2)) \
            if progress is not None else None
        pdf = CrfDocument(self.page_info(current_lang()), half, cancelled).forms(prints)
        return self._sign(pdf, f"casebook {subject}" + (f" {event}" if event else ""))

    def sign_document(self, pdf: bytes, what: str) -> bytes:
        """Sign a PDF made elsewhere (the outcome and safety reports) with the site certificate, like the CRFs."""
        self.ctx.require(Perm.PRINT)
        return self._sign(pdf, what)

    def blank_crf_pdf(self) -> bytes:
        self.ctx.require(Perm.PRINT)
        return self._sign(CrfDocument(self.page_info(current_lang())).blank(self.study), "annotated CRF")

    def check_output(self, target: Path | str) -> Path:
        """Refuse (clear message, nothing changed) an output path that must not be written (see
        ``fileutil.safe_output_path``)."""
        return safe_output_path(target, db_path=self.ctx.site.db_path)

    def write(self, pdf: bytes, target: Path, what: str) -> Changes:
        """Write atomically (never a half-written PDF), then audit the print. A target that is one of the site's
        files, a folder or a device is refused before anything is written."""
        target = self.check_output(target)
        try:
            atomic_write_bytes(target, pdf, mode=0o600)
        except OSError as exc:
            raise StoreError(Msg.PDF_WRITE_FAILED, path=str(target), reason=exc.strerror or str(exc)) from None
        return self.integrity.record_export(Action.PRINT, target, what)


def site_certificate(ctx: ServiceContext) -> tuple[str, str]:
    """The site's PDF signing certificate and its encrypted key, created (and audited) when missing."""
    with ctx.write() as tx:
        session = tx.session
        cert = session.get(SiteSetting, "pdf_signing_certificate")
        key = session.get(SiteSetting, "pdf_signing_key")
        if cert is not None and key is not None:
            return cert.value, key.value
        settings = {s.key: s.value for s in session.execute(select(SiteSetting)).scalars()}
        name = settings.get("site_name", "MSC-SLE site")
        cert_pem, key_pem = certificate.create(f"MSC-SLE eCRF — {name}", name, ctx.clock.now(), ctx.store.key)
        _store_certificate(tx, cert_pem, key_pem, "site PDF signing certificate created (ECDSA P-256, self-signed)")
        return cert_pem, key_pem


def _store_certificate(tx: Tx, cert_pem: str, key_pem: str, detail: str) -> None:
    now = tx.ctx.now()
    for name, value in (("pdf_signing_certificate", cert_pem), ("pdf_signing_key", key_pem)):
        row = tx.session.get(SiteSetting, name)
        if row is None:
            tx.session.add(SiteSetting(key=name, value=value, updated_utc=now))
        else:
            row.value, row.updated_utc = value, now
    tx.audit(Action.SETTING_CHANGE, item="pdf_signing_certificate", detail=detail)


def import_pkcs12(ctx: ServiceContext, data: bytes, password: bytes | None) -> str:
    """Replace the signing certificate by a PKCS#12 one (administrators); the key is re-protected like the data."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    ctx.require(Perm.EDIT_SITE_SETTINGS)
    try:
        key, cert, _chain = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        raise ValidationError(Msg.FIELD_PATTERN, field=L("PKCS#12 file", "Fichier PKCS#12"),
                              rule=L("unreadable, or wrong password", "illisible, ou mot de passe incorrect")) from None
    if key is None or cert is None:
        raise ValidationError(Msg.FIELD_PATTERN, field=L("PKCS#12 file", "Fichier PKCS#12"),
                              rule=L("a key and its certificate are needed", "une clé et son certificat sont "
                                     "nécessaires"))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(
                                    certificate.passphrase_from(ctx.store.key))).decode()
    subject = cert.subject.rfc4514_string()
    with ctx.write() as tx:
        _store_certificate(tx, cert_pem, key_pem, f"PKCS#12 certificate imported: {subject}")
    return subject
