"""Packets for one signed-in user (the CLI and the app screen): export and import through ``ServiceContext``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.i18n import L
from msc_sle_crf.services import reads
from msc_sle_crf.services.changes import Change, Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.store.tables import AuditEvent, ItemConflict
from msc_sle_crf.sync import packets as P
from msc_sle_crf.sync import secret
from msc_sle_crf.sync.instances import local_text


@dataclass(frozen=True)
class ConflictInfo:
    """An item two workstations changed differently (both values, who, where, when), until it is resolved."""

    id: int
    kept: dict[str, Any]
    other: dict[str, Any]

    def line(self, side: dict[str, Any]) -> L:
        return L(f"{side.get('text')!r} by {side.get('user')} on {side.get('ws')}, {side.get('utc')}",
                 f"{side.get('text')!r} par {side.get('user')} sur {side.get('ws')}, {side.get('utc')}")

    def describe(self) -> L:
        kept, other = self.line(self.kept), self.line(self.other)
        return L(f"Conflict between workstations: kept {kept.en}; other value {other.en}. Enter the right value "
                 "(with a reason) to resolve it.",
                 f"Conflit entre postes : conservée {kept.fr} ; autre valeur {other.fr}. Saisissez la bonne valeur "
                 "(avec un motif) pour le résoudre.")


@dataclass(frozen=True)
class ImportOutcome:
    path: Path
    result: P.ImportResult
    # What the import wrote into this trail, as a change record: open screens refresh from it like from any write.
    changes: Changes = field(default_factory=Changes)

    def line(self) -> L:
        r = self.result
        if r.duplicate:
            when = local_text(r.imported_utc)  # this computer's dd/mm/yyyy HH:MM, not the stored UTC text
            return L(f"{self.path.name}: already imported on {when} (packet {r.seq} of {r.origin_ws}); "
                     "nothing changed.",
                     f"{self.path.name} : déjà importé le {when} (paquet {r.seq} de {r.origin_ws}) ; rien "
                     "n'a changé.")
        return L(f"{self.path.name}: packet {r.seq} of {r.origin_ws} applied: {r.copied} record(s) copied, "
                 f"{r.skipped} already here, {r.conflicts} conflict(s).",
                 f"{self.path.name} : paquet {r.seq} de {r.origin_ws} appliqué : {r.copied} enregistrement(s) "
                 f"copié(s), {r.skipped} déjà présent(s), {r.conflicts} conflit(s).")


class Packets:
    def __init__(self, ctx: ServiceContext, study: Any) -> None:
        self.ctx = ctx
        self.study = study

    def _require(self) -> None:
        """Whoever handles the data (VIEW_DATA) or the encrypted copies of the database (BACKUP: administrators)."""
        self.ctx.require(Perm.BACKUP if self.ctx.can(Perm.BACKUP) else Perm.VIEW_DATA)

    def _keys(self, session: Session) -> tuple[bytes, ...]:
        """The site's packet secret (made in this transaction if this database has none yet), then the first
        version's key (a packet of a workstation not yet upgraded)."""
        ctx = self.ctx
        return secret.import_keys(session, ctx.clock, ctx.site.workstation, ctx.site.signer(ctx.actor.username),
                                  ctx.actor.username, ctx.actor.role.value, db_key=ctx.store.key,
                                  db_id=ctx.site.keyfile.db_id)

    def export(self, out_dir: Path) -> P.ExportResult | None:
        """Write this workstation's packet into ``out_dir``; None: nothing new since the last packet."""
        self._require()
        ctx = self.ctx
        actor = ctx.actor
        with ctx.store.write(data=False) as session:
            result = P.export_packet(session, ctx.clock, ctx.site.workstation, ctx.site.signer(actor.username),
                                     actor.username, actor.role.value, self.study, Path(out_dir),
                                     packet_key=self._keys(session)[0], db_id=ctx.site.keyfile.db_id)
        self._note_head()
        return result

    def import_file(self, path: Path) -> ImportOutcome:
        """Check and apply one packet file (one transaction: all or nothing)."""
        self._require()
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(Msg.INPUT_UNREADABLE, path=str(path)[:300],
                             reason=L(str(exc.strerror or exc), str(exc.strerror or exc))) from None
        ctx = self.ctx
        actor = ctx.actor
        with ctx.store.write() as session:
            before = int(session.execute(select(func.max(AuditEvent.id))).scalar() or 0)
            result = P.import_packet(session, ctx.clock, ctx.site.workstation, ctx.site.signer(actor.username),
                                     actor.username, actor.role.value, data, packet_key=self._keys(session),
                                     expected_db_id=ctx.site.keyfile.db_id, name=path.name)
        ctx.forget_directory()
        self._note_head()
        with ctx.read() as session:
            written = session.execute(select(
                AuditEvent.action, AuditEvent.subject, AuditEvent.visit, AuditEvent.form, AuditEvent.item,
                AuditEvent.repeat_key, AuditEvent.new_value).where(AuditEvent.id > before)).all()
        known = {a.value for a in Action}
        changes = Changes(tuple(Change.of(Action(a), subject=subj, visit=visit, form=form, item=item,
                                          repeat_key=repeat, new_value=new)
                                for a, subj, visit, form, item, repeat, new in written if a in known))
        return ImportOutcome(path, result, changes)

    def _note_head(self) -> None:
        """The trail head noted outside the WAL, as every write of the program does (store/head.py)."""
        from msc_sle_crf.store.tables import AuditEvent

        with self.ctx.read() as session:
            last = session.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.ts_utc)
                                   .order_by(AuditEvent.id.desc()).limit(1)).first()
        if last is not None:
            self.ctx.site.note_head(int(last[0]), str(last[1]), str(last[2]))

    def conflicts(self, ref: Any) -> dict[tuple[str, int, str], ConflictInfo]:
        """The open conflicts of one form, by item (what the form shows on the field)."""
        import json

        self.ctx.require(Perm.VIEW_DATA, subject=ref.subject)
        with self.ctx.read() as session:
            subject = reads.subject(session, ref.subject)
            instance = reads.instance(session, subject.id, ref.event, ref.form)
            if instance is None:
                return {}
            rows = session.execute(select(ItemConflict).where(ItemConflict.instance_id == instance.id,
                                                              ItemConflict.status == "open")).scalars().all()
            return {(c.group_id, c.row_no, c.item_id): ConflictInfo(c.id, json.loads(c.kept), json.loads(c.other))
                    for c in rows}
