"""Which database *is* a workstation (docs/workstations.md, "One workstation file, one database"). No Qt.

A workstation file (``workstation add``) could be opened twice, on two laptops: two databases would then both be
"WS-02", give the same subject numbers to different patients and write packets the others cannot tell apart. Each
``workstation open`` therefore draws a random instance id, kept as the read-only setting ``workstation_instance``
with its own ``workstation_open`` record (so the fork's first packet carries it to the others), and every packet's
manifest names the instance that wrote it. An importer that knows a workstation as one instance refuses a packet
(or relayed records) of another in one line; the first instance a site hears of is the site's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.clock import format_stored, parse_iso_utc
from msc_sle_crf.store.tables import AuditEvent, SiteSetting
from msc_sle_crf.sync.ownership import opened_ws

INSTANCE_KEY = "workstation_instance"


@dataclass(frozen=True)
class Instance:
    id: str
    opened_utc: str  # when that database was opened from its workstation file (UTC)
    offset: int = 0  # the opening laptop's UTC offset then (minutes)

    def when(self) -> str:
        return format_stored(self.opened_utc, self.offset, seconds=False, offset=False)

    def manifest(self) -> dict[str, object]:
        return {"id": self.id, "opened_utc": self.opened_utc, "offset": self.offset}

    @classmethod
    def of(cls, value: object) -> Instance | None:
        """The ``instance`` of a packet manifest (None: a packet of a version before instances, or of WS-01)."""
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            return None
        try:
            offset = int(value.get("offset") or 0)
            opened = str(value.get("opened_utc"))
            parse_iso_utc(opened)
        except (TypeError, ValueError):
            return None
        return cls(value["id"], opened, offset)


def new_id() -> str:
    return secrets.token_hex(8)


def known(session: Session) -> dict[str, Instance]:
    """The instance each workstation is known as here: the first ``workstation_open … workstation_instance`` record
    of that workstation in this trail (its own, or a copy a packet brought: the first one heard of binds)."""
    out: dict[str, Instance] = {}
    for value, ts, offset, detail in session.execute(
            select(AuditEvent.new_value, AuditEvent.ts_utc, AuditEvent.utc_offset_min, AuditEvent.detail)
            .where(AuditEvent.action == "workstation_open", AuditEvent.item == INSTANCE_KEY)
            .order_by(AuditEvent.id)):
        ws = opened_ws(detail)
        if ws is not None and value and ws not in out:
            out[ws] = Instance(str(value), str(ts), int(offset or 0))
    return out


def own(session: Session, ws: str) -> Instance | None:
    """This database's instance (None: WS-01, the hub, or a workstation opened before instances existed)."""
    row = session.get(SiteSetting, INSTANCE_KEY)
    if row is None:
        return None
    found = known(session).get(ws)
    return found if found is not None and found.id == row.value else Instance(row.value, row.updated_utc)


def local_text(ts_utc: str | None) -> str:
    """A stored UTC time as this computer's local dd/mm/yyyy HH:MM (what a person reads in a one-line message)."""
    if not ts_utc:
        return "?"
    try:
        return parse_iso_utc(ts_utc).astimezone().strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return ts_utc


__all__ = ["INSTANCE_KEY", "Instance", "known", "local_text", "new_id", "own"]
