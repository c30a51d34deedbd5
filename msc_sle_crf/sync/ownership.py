"""Which workstation owns a subject (docs/workstations.md, "Workstations"): only the owner registers the subject,
starts its forms, adds rows to them and runs its infusion day. Values of existing forms, signatures, SDV and queries
may change anywhere (a conflict is handled when packets meet). No Qt."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from msc_sle_crf.access import PERMISSIONS, Perm
from msc_sle_crf.errors import Msg, PermissionDenied
from msc_sle_crf.i18n import L
from msc_sle_crf.store.db import driver_statements
from msc_sle_crf.sync.identity import FIRST_WS
from msc_sle_crf.sync.ids import workstation_of

_OWNER = "SELECT owner_ws FROM subject WHERE subject_number = ?"
_WS_ID = re.compile(r"WS-[0-9]{2}")
_OPEN_DETAIL = re.compile(r"^workstation (WS-[0-9]{2}|HUB): ")


def opened_ws(detail: str | None) -> str | None:
    """The workstation a ``workstation_open`` record set up (its detail starts "workstation WS-nn: "): the replay
    checks the copy's identity settings against these records."""
    match = _OPEN_DETAIL.match(detail or "")
    return match.group(1) if match else None


# who may write a ``subject_handover`` (the rule of the command line and the app: ``Perm.HAND_OVER_SUBJECT``)
HANDOVER_ROLES = frozenset(role.value for role, perms in PERMISSIONS.items() if Perm.HAND_OVER_SUBJECT in perms)


def handover_problem(*, role: str | None, made_on: str | None, owner: str | None, target: str | None,
                     added: set[str] | None) -> L | None:
    """Why a ``subject_handover`` record is not valid (None: it is). It is valid only when made on the workstation
    that owned the subject at that point of the trail (``owner``; None = WS-01), by a role that may hand over, to a
    workstation the site created (``added``: WS-01 and every admin-signed ``workstation_add``; None: not known here,
    not checked). The replay ``verify`` runs and packet import apply the same rule (docs/workstations.md)."""
    current = owner_shown(owner)
    if (role or "") not in HANDOVER_ROLES:
        return L(f"a {role or 'nobody'} may not hand a subject over (administrators and investigators only)",
                 f"un rôle {role or 'inconnu'} ne peut pas transférer un patient (administrateurs et investigateurs "
                 "seulement)")
    if (made_on or "") != current:
        return L(f"it was written on {made_on}, but {current} owned the subject then",
                 f"il a été écrit sur {made_on}, mais le patient était alors saisi sur {current}")
    if added is not None and (target or "") not in added:
        return L(f"{target} was never added to this site (no workstation_add record)",
                 f"le poste {target} n'a jamais été ajouté à ce site (aucun enregistrement workstation_add)")
    return None


def added_ws(role: str | None, item: str | None, new_value: str | None) -> str | None:
    """The workstation a ``workstation_add`` record created, if it is valid: written by an administrator, naming
    the same WS-nn in its item and its JSON."""
    import json

    if role != "admin":
        return None
    try:
        data = json.loads(new_value or "{}")
    except ValueError:
        return None
    ws = data.get("ws") if isinstance(data, dict) else None
    return ws if isinstance(ws, str) and ws == item and _WS_ID.fullmatch(ws) else None


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


# ----- subject numbers: each workstation registers inside the block the site gave it (insider attack B, finding 1) --
_NUMBER = re.compile(r"^.+-([0-9]{1,6})$")


def added_block(role: str | None, item: str | None, new_value: str | None) -> tuple[str, tuple[int, int]] | None:
    """The workstation a valid ``workstation_add`` record created and the subject numbers it gave it (its JSON's
    ``subject_range``, "201-399"); None: not a valid add, or no readable range."""
    import json

    ws = added_ws(role, item, new_value)
    if ws is None:
        return None
    try:
        low, _, high = str(json.loads(new_value or "{}").get("subject_range") or "").partition("-")
        return ws, (int(low), int(high))
    except (ValueError, AttributeError):
        return None


def number_problem(subject: str | None, made_on: str | None, blocks: dict[str, tuple[int, int]]) -> L | None:
    """Why a subject registered on workstation ``made_on`` has a number that is not its to give (None: it is). A
    workstation the site added (``blocks``: every valid ``workstation_add`` so far, ws -> its numbers) registers
    inside its block only; the first workstation registers anywhere no added workstation holds (before its first
    fork it had the whole log; at that fork it kept the numbers it had used, sync/workstations._first_split).
    Numbers that are not ``<site>-<digits>`` and workstations with no known block (the hub) are not judged here."""
    match = _NUMBER.match(subject or "")
    if match is None or made_on is None:
        return None
    number = int(match.group(1))

    def shown(block: tuple[int, int]) -> str:
        return f"{block[0]:03d}-{block[1]:03d}"

    own = blocks.get(made_on)
    if own is not None:
        if own[0] <= number <= own[1]:
            return None
        return L(f"it was registered on {made_on}, outside the subject numbers the site gave {made_on} "
                 f"({shown(own)})",
                 f"il a été inscrit sur {made_on}, hors des numéros de patients que le site a donnés à {made_on} "
                 f"({shown(own)})")
    if made_on != FIRST_WS:
        return None
    for ws, block in sorted(blocks.items()):
        if block[0] <= number <= block[1]:
            return L(f"it was registered on {made_on}, inside the subject numbers the site gave {ws} "
                     f"({shown(block)})",
                     f"il a été inscrit sur {made_on}, dans les numéros de patients que le site a donnés à {ws} "
                     f"({shown(block)})")
    return None
