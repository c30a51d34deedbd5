"""An account disabled by another workstation of the site (issue 18).

A packet carries the account records of its workstation: an administrator's ``user_disable`` made on WS-01 is copied
into WS-02's trail (its author's signature and right checked by the import). From then on the account may not open
a session on WS-02 either (sign-in, lock screen, switch user, the bedside second check, the hub), and an open session
of it ends at its next action. Accounts, roles and key slots stay each workstation's own (``app_user`` and the key
file are not changed by an import): the state is read from the copies themselves, so that

- the latest act by its origin time holds: an ``user_enable`` made on WS-01 after its disable (or in the other order)
  travels the same way; copies from several workstations are ordered by their origin time (ties: workstation id,
  then the origin's record id); an act made here comes after every copy already here when it was made (whatever
  the other workstation's clock said), and a copy arriving later is ordered by time against it;
- a disable made here (``app_user.active`` false) is lifted only by an enable made here: a copy never enables an
  account this workstation disabled (the caller checks ``app_user`` first);
- an enable made here after a disable made elsewhere lifts it (an administrator of this workstation decided later).

The look-up reads one account's records through the trail's index on (subject, form, item): sign-in stays constant
in the database's size (issue 13). Works on SQLite (a site) and on PostgreSQL (the hub).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from msc_sle_crf import audit

DISABLE, ENABLE = "user_disable", "user_enable"

# An account's disables and enables: account records name no subject and no form; ``item`` is the account.
LOOKUP_SQL = ("SELECT id, ts_utc, action, role, origin FROM audit_event WHERE subject IS NULL AND form IS NULL "
              "AND item = :account AND action IN ('user_disable', 'user_enable')")


@dataclass(frozen=True)
class DisabledElsewhere:
    """The act that holds: ``account`` was disabled on workstation ``ws`` at ``ts_utc`` (its origin time)."""

    account: str
    ws: str
    ts_utc: str


def latest(rows: list[Any]) -> tuple[str, str, str | None] | None:
    """The act that holds among an account's disable/enable records (``LOOKUP_SQL`` rows): (action, time, the
    workstation it was made on, None: here), or None when there is none. Copies count only when made by an
    administrator (what the import checked); this trail's own records are already in ``app_user``."""
    acts: list[tuple[str, int, str, int, str, str | None]] = []
    known = ""  # the latest origin time among the copies already here (in this trail's order)
    for record_id, ts_utc, action, role, origin_text in sorted(rows, key=lambda r: int(r[0])):
        origin = audit.parse_origin(origin_text)
        if origin is None:  # this trail's own act: it was decided with the copies before it in view, so it comes
            # after them whatever another workstation's clock said (and after one made at the same time)
            acts.append((max(str(ts_utc), known), 1, "", int(record_id), str(action), None))
            continue
        ws = origin.get("ws")
        if role != "admin" or not isinstance(ws, str) or not ws:
            continue
        origin_id = origin.get("id")
        acts.append((str(ts_utc), 0, ws, int(origin_id) if isinstance(origin_id, int) else 0, str(action), ws))
        known = max(known, str(ts_utc))
    if not acts:
        return None
    ts_utc, _here, _ws, _id, action, ws = max(acts)
    return action, ts_utc, ws


def holding(account: str, rows: list[Any]) -> DisabledElsewhere | None:
    """Whether the act that holds among ``rows`` (``LOOKUP_SQL`` rows of ``account``) is a disable made on another
    workstation."""
    found = latest(rows)
    if found is None:
        return None
    action, ts_utc, ws = found
    return DisabledElsewhere(account, ws, ts_utc) if action == DISABLE and ws is not None else None


def records(session: Any, account: str) -> list[Any]:
    """``account``'s disable and enable records (``LOOKUP_SQL`` rows: id, ts_utc, action, role, origin)."""
    return list(session.execute(text(LOOKUP_SQL), {"account": account}).all())


def disabled_elsewhere(session: Any, account: str) -> DisabledElsewhere | None:
    """Whether the act that holds for ``account`` is a disable made on another workstation (``session``: a
    SQLAlchemy session or connection, on a site or the hub)."""
    return holding(account, records(session, account))
