"""Printing: signed PDF case report forms (one form, a visit, a casebook, the blank annotated CRF), written
atomically where the user chose, audited. Long jobs report progress and can be cancelled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import format_stored, iso_utc
from msc_sle_crf.errors import Msg, StoreError, ValidationError
from msc_sle_crf.fileutil import atomic_write_bytes, safe_output_path
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import FormDef, StudyDef
from msc_sle_crf.i18n import L, Lang, current_lang
from msc_sle_crf.security import ca
from msc_sle_crf.services import reads
from msc_sle_crf.services.certificates import current_certificate, ensure_ca, store_ca
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.services.integrity import Integrity
from msc_sle_crf.services.lifecycle import Lifecycle
from msc_sle_crf.services.monitoring import CLOSED, Monitoring
from msc_sle_crf.services.settings import Settings
from msc_sle_crf.status import FormStatus
from msc_sle_crf.store.site import CA_CERT_SETTING
from msc_sle_crf.store.tables import AuditEvent, DataQuery, FormInstance, ItemVerification, Signature
from msc_sle_crf.trail_words import action_label, detail_text, who_text

if TYPE_CHECKING:  # reportlab is imported when something is printed, not with the services (demo, start-up)
    from msc_sle_crf.pdf.render import Cover, FormPrint, PageInfo

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class _Marked:
    """(visit, form) of a subject's forms with data queries, source verifications, signatures (``Printing._marked``)."""

    queries: frozenset[tuple[str, str]]
    verified: frozenset[tuple[str, str]]
    signatures: frozenset[tuple[str, str]]


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

    # ----- the site CA and the printing user's certificate ---------------------------------------------------------
    def certificate(self) -> tuple[str, str]:
        """(the site CA's certificate PEM, ""): the trust root of every PDF this site signs (made for an older site
        at an administrator's first print)."""
        return ensure_ca(self.ctx), ""

    def ca_fingerprint(self) -> str:
        """The pinned SHA-256 fingerprint of the site CA (shown at init, on every page, in the admin menu)."""
        return ca.fingerprint(ensure_ca(self.ctx))

    def personal_certificate(self) -> str:
        """The signed-in user's personal certificate for their current PDF key, issued by the current site CA (an
        administrator's is issued on the spot when missing; anyone else's at an administrator's next action)."""
        ctx = self.ctx
        ca_pem = ensure_ca(ctx)
        found = current_certificate(ctx, ctx.actor.username, ca_pem)
        if found is None and ctx.actor.role.value == "admin":
            signer = ctx.site.signer(ctx.actor.username)
            ctx.site.issue_certificate(ctx.actor.username, signer, signer.keys, ctx.actor.role.value)
            found = current_certificate(ctx, ctx.actor.username, ca_pem)
        if found is None:
            raise ValidationError(Msg.CERTIFICATE_MISSING, user=ctx.actor.username)
        return found

    def trail_head(self) -> tuple[int, str]:
        with self.ctx.read() as session:
            row = session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc())
                                  .limit(1)).first()
        return (int(row[0]), str(row[1])) if row is not None else (0, "0" * 64)

    def page_info(self, lang: Lang) -> PageInfo:
        """What every page of a printout says: study, site, when and by whom it was made, the trail head at that
        moment and the fingerprint of the site CA that vouches for the signer."""
        settings = self.settings.all()
        clock = self.ctx.clock
        actor = self.ctx.actor
        stamp = format_stored(iso_utc(clock.now()), clock.local_offset_minutes(), seconds=False)
        by = {"en": "by", "fr": "par"}[lang.value]
        head_id, head_hash = self.trail_head()
        ca_pem = settings.get(CA_CERT_SETTING)
        from msc_sle_crf.pdf.render import PageInfo

        return PageInfo(self.study.meta.name, self.study.meta.protocol,
                        f"{settings.get('site_name', '')} ({settings.get('site_number', '')})",
                        f"{stamp} {by} {actor.full_name} ({actor.username})", lang,
                        trail=f"#{head_id} {head_hash[:16]}…", ca_fingerprint=ca.fingerprint(ca_pem) if ca_pem else "")

    def _form_print(self, ref: FormRef, *, with_audit: bool,
                    trail: dict[tuple[str | None, str | None], list[AuditEvent]] | None = None,
                    marked: _Marked | None = None) -> FormPrint:
        """For a casebook, read once for the subject: ``trail``, its records by (visit, form) (``_subject_trail``);
        ``marked``, which of its forms have queries, source verifications or signatures at all (``_marked``)."""
        snap = self.entry.open_form(ref)
        lang = current_lang()
        here = (ref.event, ref.form)
        queries: dict[tuple[str, int, str], int] = {}
        for q in self.monitoring.queries(ref) if marked is None or here in marked.queries else ():
            if q.status != CLOSED:
                queries[q.key] = queries.get(q.key, 0) + 1
        audit: list[tuple[str, str, str, str, str, str]] = []
        if with_audit:
            if trail is None:
                trail = self._subject_trail(ref.subject, ref)
            audit = [_audit_row(e, snap.form, lang) for e in trail.get((ref.event, ref.form), [])]
        from msc_sle_crf.pdf.render import FormPrint

        signatures = self.lifecycle.signatures(ref) if marked is None or here in marked.signatures else []
        verified = self.monitoring.verified_items(ref) if marked is None or here in marked.verified else {}
        return FormPrint(ref.subject, snap.event.label.as_l(), ref.event, snap.form, snap.state,
                         snap.status.as_l(), [s.manifestation(lang) for s in signatures], queries, audit,
                         verified=verified, value_labels=self._value_labels(ref))

    def _marked(self, subject: str) -> _Marked:
        """Which forms of ``subject`` have data queries, source verifications, signatures: a casebook reads those of
        these forms only (three reads per form otherwise, most of them finding nothing)."""
        with self.ctx.read() as session:
            subject_id = reads.subject(session, subject).id
            forms = {int(i): (str(e), str(f)) for i, e, f in session.execute(
                select(FormInstance.id, FormInstance.event_id, FormInstance.form_id)
                .where(FormInstance.subject_id == subject_id))}

            def having(table: Any) -> frozenset[tuple[str, str]]:  # one pass over the table (no index on instance_id)
                return frozenset(forms[int(i)] for i in session.execute(
                    select(table.instance_id).distinct().where(table.instance_id.in_(list(forms)))).scalars())

            return _Marked(having(DataQuery), having(ItemVerification), having(Signature))

    def _subject_trail(self, subject: str, ref: FormRef | None = None
                       ) -> dict[tuple[str | None, str | None], list[AuditEvent]]:
        """The audit records of ``subject`` (of its form ``ref`` only, if given) by (visit, form), in trail order:
        a casebook reads its subject's trail once, not once per form."""
        query = select(AuditEvent).where(AuditEvent.subject == subject)
        if ref is not None:
            query = query.where(AuditEvent.form == ref.form, AuditEvent.visit == ref.event)
        out: dict[tuple[str | None, str | None], list[AuditEvent]] = {}
        with self.ctx.read() as session:
            for e in session.execute(query.order_by(AuditEvent.id)).scalars():
                out.setdefault((e.visit, e.form), []).append(e)
        return out

    def _value_labels(self, ref: FormRef) -> dict[str, dict[str, L]]:
        return reads.coded_value_names(self.study, ref.form)

    def _sign(self, pdf: bytes, what: str) -> bytes:
        """Signed with the printing user's personal key and certificate (issued by the site CA); the signature's
        reason carries the trail head, so the PDF is also a receipt (``verify --receipt``)."""
        from msc_sle_crf.pdf import sign  # pyHanko loads when something is signed, not with every command

        cert_pem = self.personal_certificate()
        ca_pem = ensure_ca(self.ctx)
        key = self.ctx.site.signer(self.ctx.actor.username).keys.pdf
        if key is None:
            raise ValidationError(Msg.CERTIFICATE_MISSING, user=self.ctx.actor.username)
        head_id, head_hash = self.trail_head()
        return sign.sign_with(pdf, key, cert_pem, [ca_pem], reason=f"{self.study.meta.name} {what}; trail #{head_id} "
                              f"{head_hash}", location=self.settings.get("site_name"))

    # ----- documents --------------------------------------------------------------------------------------------
    def form_pdf(self, ref: FormRef, *, with_audit: bool = False) -> bytes:
        self.ctx.require(Perm.PRINT, subject=ref.subject)
        from msc_sle_crf.pdf.render import CrfDocument

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
            visit = self.study.event(event).label if event else None
            where = L(f" in the visit “{visit.en}”", f" à la visite « {visit.fr} »") if visit else L("", "")
            raise ValidationError(Msg.NOTHING_TO_PRINT, subject=subject, where=where)
        trail = self._subject_trail(subject) if with_audit else None
        marked = self._marked(subject)
        prints = []
        for n, ref in enumerate(refs):
            if cancelled is not None and cancelled():
                from msc_sle_crf.pdf.render import Cancelled

                raise Cancelled
            if progress is not None:
                progress(n, len(refs) * 2)
            prints.append(self._form_print(ref, with_audit=with_audit, trail=trail, marked=marked))
        half = (lambda done, total: progress(len(refs) + done * len(refs) // max(total, 1), len(refs) * 2)) \
            if progress is not None else None
        info = self.page_info(current_lang())
        from msc_sle_crf.pdf.render import CrfDocument

        pdf = CrfDocument(info, half, cancelled).forms(prints, self._cover(info, subject, event, len(prints)))
        return self._sign(pdf, f"casebook {subject}" + (f" {event}" if event else ""))

    def _cover(self, info: PageInfo, subject: str, event: str | None, forms: int) -> Cover:
        """What the casebook's first page says: whose it is, who made it and when, how to check its signature."""
        lang, actor = info.lang, self.ctx.actor
        signer = ca.fingerprint(self.personal_certificate())
        meta = self.study.meta
        details: list[tuple[L, str]] = [(L("Study", "Étude"), f"{meta.name} — {meta.title.get(lang)}"),
                                        (L("Protocol", "Protocole"), meta.protocol),
                                        (L("Site", "Site"), info.site), (L("Subject", "Patient"), subject)]
        if event is not None:
            details.append((L("Visit", "Visite"), self.study.event(event).label.get(lang)))
        details += [(L("Forms", "Formulaires"), str(forms)), (L("Generated", "Généré le"), info.generated),
                    (L("Signed electronically by", "Signé électroniquement par"),
                     f"{actor.full_name} ({actor.role.label(lang)})"),
                    (L("Signer's certificate (SHA-256)", "Certificat du signataire (SHA-256)"), signer),
                    (L("Site certificate authority (SHA-256)", "Autorité de certification du site (SHA-256)"),
                     info.ca_fingerprint),
                    (L("Audit trail at printing", "Piste d'audit à l'impression"), info.trail)]
        title = L("Casebook", "Cahier d'observation") if event is None else L("Visit casebook", "Cahier de visite")
        from msc_sle_crf.pdf.render import Cover

        return Cover(title, subject, tuple(details))

    def sign_document(self, pdf: bytes, what: str) -> bytes:
        """Sign a PDF made elsewhere (the outcome and safety reports) with the site certificate, like the CRFs."""
        self.ctx.require(Perm.PRINT)
        return self._sign(pdf, what)

    def blank_crf_pdf(self) -> bytes:
        self.ctx.require(Perm.PRINT)
        from msc_sle_crf.pdf.render import CrfDocument

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


def _shown_value(form: FormDef, item_id: str | None, action: str, text: str | None, lang: Lang) -> str:
    """An old or new value of the trail as the reader writes it: a state by its name, a coded value by its label,
    dates dd/mm/yyyy, decimal commas in French; anything else as stored."""
    if not text:
        return ""
    if (action in ("status_change", "create") or not item_id) and text in tuple(FormStatus):  # a signature's too
        return FormStatus(text).label(lang)
    if item_id and form.has_item(item_id):
        item = form.item(item_id)
        try:
            return V.display(item, V.from_storage(item, text), lang, form.codelist_for(item)) or text
        except (ValueError, TypeError, ArithmeticError):
            return text
    return text


def _audit_row(e: AuditEvent, form: FormDef, lang: Lang) -> tuple[str, str, str, str, str, str]:
    """One line of a form's audit trail in words: when (dd/mm/yyyy), who (name and role), what (the action and the
    item's name), old and new values as shown on screen, why (in the reader's language when the program wrote it)."""
    role = Role(e.role).label(lang) if e.role in tuple(Role) else (e.role or "")
    what = action_label(e.action, lang)
    if e.item and form.has_item(e.item):
        what += f" — {form.item(e.item).label.get(lang)}"
    said = e.reason or e.detail or ""
    # a warning stored in English (a confirmed value, its automatic query) is said with the form's labels
    labels = {i.label.en: i.label.as_l() for i in form.all_items()} if "confirmed: " in said or " auto: " in said \
        else None
    why = detail_text(said, lang, labels=labels)
    who = who_text(f"{e.username} ({role})" if role else e.username or "", e.action, e.detail, lang)
    return (format_stored(e.ts_utc, e.utc_offset_min), who, what,
            _shown_value(form, e.item, e.action, e.old_value, lang),
            _shown_value(form, e.item, e.action, e.new_value, lang), why)


def import_pkcs12(ctx: ServiceContext, data: bytes, password: bytes | None) -> str:
    """Make a PKCS#12 CA (key and CA certificate) the site's CA (administrators): its key is sealed to the
    administrators and the recovery code, and every account gets a personal certificate from it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
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
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca or not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValidationError(Msg.FIELD_PATTERN, field=L("PKCS#12 file", "Fichier PKCS#12"),
                              rule=L("a certificate authority (basic constraints CA) with an EC key is needed: it "
                                     "issues each user's personal certificate",
                                     "une autorité de certification (contraintes de base CA) avec une clé EC est "
                                     "nécessaire : elle délivre le certificat personnel de chaque utilisateur"))
    from cryptography.hazmat.primitives import serialization

    ca_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    subject = cert.subject.rfc4514_string()
    store_ca(ctx, ca_pem, key, f"PKCS#12 certificate authority imported: {subject}")
    return subject
