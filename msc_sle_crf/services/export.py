"""Data out (issue 16): the export of the trial's data, for the roles ``export: roles`` in study.yaml allows.

The core (``msc_sle_crf.export``) writes the files from one read transaction of a fresh connection (so it can run
on a worker thread while the screens keep theirs); this service checks who asks, gathers the scores and the
signing material, and audits the export (who, what, how many subjects, the manifest's hash)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from msc_sle_crf import __version__
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, PermissionDenied, StoreError, ValidationError
from msc_sle_crf.export.options import Cancelled, ExportOptions, ExportResult, InvalidOdm, Progress
from msc_sle_crf.fileutil import safe_output_path
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L
from msc_sle_crf.services.certificates import current_certificate, ensure_ca
from msc_sle_crf.services.context import ServiceContext, role_l
from msc_sle_crf.services.overview import STAGES, Overview
from msc_sle_crf.services.receipts import head_document
from msc_sle_crf.store.key_change import key_change, read_again_after_rekey, stop_if


class Export:
    def __init__(self, ctx: ServiceContext, study: StudyDef, overview: Overview) -> None:
        self.ctx = ctx
        self.study = study
        self.overview = overview

    def allowed(self) -> bool:
        return self.ctx.actor.role.value in self.study.meta.export.roles

    def require(self) -> None:
        self.ctx.check_session()
        if not self.allowed():
            self.ctx.audit_alone(Action.ACCESS_DENIED, detail="export refused: role not in study.yaml export roles")
            raise PermissionDenied(Msg.PERMISSION_DENIED, role=role_l(self.ctx.actor.role),
                                   action=L("export data", "exporter des données"))

    def check_target(self, target: Path | str) -> Path:
        """The folder to create: a new name in an existing, writable folder, never a site file. One clear line."""
        text = str(target)
        path = Path(text).expanduser()
        if os.path.lexists(path):
            raise ValidationError(Msg.OUTPUT_EXISTS, path=text)
        safe_output_path(path, db_path=self.ctx.site.db_path)
        parent = path.resolve().parent
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StoreError(Msg.OUTPUT_NOT_WRITABLE, path=text, detail=L("the folder is not writable",
                                                                          "le dossier n'est pas accessible en "
                                                                          "écriture"))
        return path

    def _scores(self) -> Iterator[Any]:
        """Every derived score of every subject (exact values, unrounded), as the outcome tables compute them; one
        subject read at a time, so memory does not grow with the trial."""
        from sqlalchemy import select

        from msc_sle_crf.scoring.subject import compute
        from msc_sle_crf.store.tables import Subject

        today = self.ctx.local_now().date()
        with self.ctx.read() as session:
            ids = session.execute(select(Subject.id).order_by(Subject.id)).scalars().all()
        for subject_id in ids:
            with self.ctx.read() as session:
                subject = session.get(Subject, subject_id)
                assert subject is not None
                number = subject.subject_number
                data, _statuses = self.overview.load(session, subject)
            scores = compute(data, self.study.bindings, self.overview.day0, self.study.meta.scoring, today=today,
                             visits={e.id: e.label.as_l() for e in self.study.meta.events})
            for visit, results in scores.per_visit.items():
                for result in results.values():
                    yield _score_row(number, visit, result)
            for result in scores.overall.values():
                yield _score_row(number, "", result)

    def export(self, target: Path | str, options: ExportOptions | None = None, *,
               progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> ExportResult:
        """Write the export folder (see ``msc_sle_crf.export``) and audit it. May run on a worker thread.

        Never beside a re-key (disable an account, "Rotate keys"; store/key_change.py): started while the key
        changes, it waits for the new key; a re-key that starts while it runs stops it at its next step (nothing
        left under the target name) and it starts again on the new key."""
        options = options or ExportOptions()
        return read_again_after_rekey(self.ctx.site, lambda wanted: self._export_once(
            target, options, progress=progress, cancelled=cancelled, wanted=wanted))

    def _export_once(self, target: Path | str, options: ExportOptions, *, progress: Progress | None,
                     cancelled: Callable[[], bool] | None, wanted: threading.Event) -> ExportResult:
        from msc_sle_crf.export.bundle import run
        from msc_sle_crf.export.manifest import MANIFEST, sign_manifest
        from msc_sle_crf.export.source import Source

        def stop() -> bool:  # asked between the export's steps: the user's cancel, or a re-key that wants the file
            return wanted.is_set() or (cancelled is not None and cancelled())

        self.require()
        path = self.check_target(target)
        ctx = self.ctx
        cert_pem = current_certificate(ctx, ctx.actor.username, ensure_ca(ctx))
        signer = ctx.site.signer(ctx.actor.username)
        if cert_pem is None and ctx.actor.role.value == "admin":  # as for a print: issued on the spot
            ctx.site.issue_certificate(ctx.actor.username, signer, signer.keys, ctx.actor.role.value)
            cert_pem = current_certificate(ctx, ctx.actor.username, ensure_ca(ctx))
        if cert_pem is None or signer.keys.pdf is None:
            raise ValidationError(Msg.CERTIFICATE_MISSING, user=ctx.actor.username)
        ca_pem = ensure_ca(ctx)
        db_id = ctx.site.keyfile.db_id
        identity = {"username": ctx.actor.username, "full_name": ctx.actor.full_name, "role": ctx.actor.role.value,
                    "workstation": ctx.site.workstation}
        conn = ctx.store.raw_connection()
        source = Source(conn, self.study, options.subjects or None)
        try:
            source.begin()
            result = run(path, source, self.study, options, scores=self._scores, identity=identity,
                         stages=self.overview.stages, stage_labels=STAGES,
                         head_document=lambda rid, h, ts: head_document(db_id, rid, h, ts, signer),
                         sign=lambda data: sign_manifest(data, pdf_key=signer.keys.pdf, cert_pem=cert_pem,
                                                         ca_pem=ca_pem, ed_signer=signer),
                         version=__version__, progress=progress, cancelled=stop)
        except Cancelled:
            stop_if(wanted)  # stopped for a re-key: runs again on the new key
            raise
        except LookupError as exc:
            raise ValidationError(Msg.SUBJECT_UNKNOWN, subject=str(exc)) from None
        except InvalidOdm as exc:
            raise StoreError(Msg.EXPORT_INVALID, name=exc.name, detail=exc.problem) from None
        except OSError as exc:
            raise StoreError(Msg.OUTPUT_NOT_WRITABLE, path=str(path), detail=exc.strerror or str(exc)) from None
        finally:
            source.end()
            conn.close()
        digest = hashlib.sha256((path / MANIFEST).read_bytes()).hexdigest()
        what = ("all subjects" if not options.subjects else ", ".join(options.subjects)) + (
            "; de-identified" if options.deidentified else "") + ("; with the audit trail" if options.audit_trail
                                                                  else "; without the audit trail")
        ctx.audit_alone(Action.EXPORT, new_value=f"{path.name}: MANIFEST.json sha256 {digest}",
                        detail=f"export of {result.subjects} subject(s) ({what}); {len(result.files)} files; trail "
                               f"#{result.head[0]} {result.head[1]}"[:2000])
        return result


    def check_head(self, manifest: dict[str, Any]) -> list[str]:
        """The trail must still hold the record the export's manifest names, unchanged (else it was rolled back or
        rewritten since the export)."""
        from msc_sle_crf.services import receipts

        head = manifest.get("trail_head")
        if not isinstance(head, dict):
            return ["the manifest carries no trail head"]
        try:
            found = receipts.Head("MANIFEST.json", str(head["db_id"]), int(head["record_id"]),
                                  str(head["record_hash"]))
        except (KeyError, TypeError, ValueError):
            return ["the manifest's trail head is incomplete"]
        with key_change(self.ctx.site).reading(lambda: None):  # a short read: a re-key waits for it
            conn = self.ctx.store.raw_connection()
            try:
                return receipts.check(conn, found, self.ctx.site.keyfile.db_id)
            finally:
                conn.close()


def _score_row(subject: str, visit: str, result: Any) -> Any:
    from msc_sle_crf.export.datasets import ScoreRow

    value = result.value
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(value)
    reason = result.reason
    return ScoreRow(subject, visit, str(result.name), text, str(result.rule), reason.en if reason else "",
                    reason.fr if reason else "")
