"""Packets for one signed-in user (the CLI and the app screen): export and import through ``ServiceContext``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msc_sle_crf.access import Perm
from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.i18n import L
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.sync import packets as P


@dataclass(frozen=True)
class ImportOutcome:
    path: Path
    result: P.ImportResult

    def line(self) -> L:
        r = self.result
        if r.duplicate:
            return L(f"{self.path.name}: already imported on {r.imported_utc} (packet {r.seq} of {r.origin_ws}); "
                     "nothing changed.",
                     f"{self.path.name} : déjà importé le {r.imported_utc} (paquet {r.seq} de {r.origin_ws}) ; rien "
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

    def _key(self) -> bytes:
        return P.packet_key(self.ctx.store.key, self.ctx.site.keyfile.db_id)

    def export(self, out_dir: Path) -> P.ExportResult | None:
        """Write this workstation's packet into ``out_dir``; None: nothing new since the last packet."""
        self._require()
        ctx = self.ctx
        actor = ctx.actor
        with ctx.store.write(data=False) as session:
            result = P.export_packet(session, ctx.clock, ctx.site.workstation, ctx.site.signer(actor.username),
                                     actor.username, actor.role.value, self.study, Path(out_dir),
                                     packet_key=self._key(), db_id=ctx.site.keyfile.db_id)
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
            result = P.import_packet(session, ctx.clock, ctx.site.workstation, ctx.site.signer(actor.username),
                                     actor.username, actor.role.value, data, packet_key=self._key(),
                                     expected_db_id=ctx.site.keyfile.db_id, name=path.name)
        ctx.forget_directory()
        return ImportOutcome(path, result)
