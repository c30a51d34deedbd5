"""Which workstation owns a subject (docs/workstations.md, "Workstations"): only the owner registers the subject,
starts its forms, adds rows to them and runs its infusion day. Values of existing forms, signatures, SDV and queries
may change anywhere (a conflict is handled when packets meet). No Qt."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from msc_sle_crf.errors import Msg, PermissionDenied
from msc_sle_crf.store.db import driver_statements
from msc_sle_crf.sync.identity import FIRST_WS
from msc_sle_crf.sync.ids import workstation_of

_OWNER = "SELECT owner_ws FROM subject WHERE subject_number = ?"
_OPEN_DETAIL = re.compile(r"^workstation (WS-[0-9]{2}|HUB): ")


def opened_ws(detail: str | None) -> str | None:
    """The workstation a ``workstation_open`` record set up (its detail starts "workstation WS-nn: "): the replay
    checks the copy's identity settings against these records."""
    match = _OPEN_DETAIL.match(detail or "")
    return match.group(1) if match else None


def owner_shown(owner_ws: str | None) -> str:
    """The owner as people read it (NULL: the first workstation)."""
    return owner_ws or FIRST_WS


class NotOwner(PermissionDenied):
    """Another workstation owns the subject. The service context audits it (``access_denied``) once the transaction
    it was raised in has ended (nothing of that transaction is kept); a question that only reads is never refused
    this way (``Workstations.owns``)."""

    audited = False

    def audit_detail(self) -> str:
        p = self.params
        return (f"refused on {p.get('here')}: subject {p.get('subject')} is entered on {p.get('owner')} (new forms, "
                "rows and its infusion day are done there)")


def require_owner(session: Session, subject_number: str) -> None:
    """Refuse (one line naming the owner) unless this workstation owns the subject. An unknown subject is left to
    the caller's own check."""
    owner = driver_statements(session.connection())(_OWNER, (subject_number,)).fetchone()
    if owner is None:
        return
    here = workstation_of(session)  # kept between the write transactions of the store (sync.ids)
    if not here.owns(owner[0]):
        raise NotOwner(Msg.SUBJECT_ELSEWHERE, subject=subject_number, owner=owner_shown(owner[0]), here=here.id)
