"""A signed-in user at the hub: what ``hub ingest`` (and the packet import it calls) works with.

The hub's key file is the site's (``hub init`` copied it): a user's password opens their slot, giving the database
key (packets are encrypted with a key derived from it) and their personal keys (what they write on the hub is
signed by them, as on a workstation). Their account must be active in the hub's own user table, and not disabled by
an administrator on a workstation whose packet the hub ingested (issue 18: the latest such act holds, as on a
workstation). The sign-in is audited on the hub.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from msc_sle_crf import audit
from msc_sle_crf.access import Role
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import Clock, SystemClock
from msc_sle_crf.errors import AuthenticationError, Msg
from msc_sle_crf.hub import schema
from msc_sle_crf.hub.store import HubError, HubStore
from msc_sle_crf.i18n import L
from msc_sle_crf.locations import workstation_id
from msc_sle_crf.security.keyslots import KIND_USER, KeySlotFile, normalize_secret, normalize_username
from msc_sle_crf.security.personal import Signer
from msc_sle_crf.store.account_state import disabled_elsewhere
from msc_sle_crf.store.site import Actor
from msc_sle_crf.store.tables import AppUser


@dataclass
class HubSession:
    store: HubStore
    keyfile: KeySlotFile
    actor: Actor
    signer: Signer
    clock: Clock
    workstation: str  # the computer the hub is driven from (as on a site: the audit records' workstation field)

    @property
    def db_id(self) -> str:
        return self.keyfile.db_id

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> HubSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def read_config(keys: Path) -> dict[str, object]:
    """The hub's config beside its key file (``hub.json``), if there."""
    path = Path(keys).with_name("hub.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def open_hub(dsn: str, keys: Path, username: str, password: str, *, clock: Clock | None = None) -> HubSession:
    keyfile = KeySlotFile.load(Path(keys))
    config = read_config(Path(keys))
    if config.get("db_id") not in (None, keyfile.db_id):
        raise HubError(L("the hub's config and key file are not of the same study database",
                         "la configuration et le fichier de clés du hub ne sont pas de la même base d'étude"))
    account = normalize_username(username)
    unlocked = keyfile.unlock(KIND_USER, account, normalize_secret(password))
    if unlocked is None or unlocked.keys is None:
        raise AuthenticationError(Msg.BAD_CREDENTIALS)
    store = HubStore(dsn, key=unlocked.db_key)
    try:
        schema.require_current(store)
        with store.read() as session:
            user = session.execute(select(AppUser).where(AppUser.username == account)).scalar_one_or_none()
            # an administrator's disable made on a workstation and ingested here holds on the hub too (issue 18)
            elsewhere = disabled_elsewhere(session, account) if user is not None and user.active else None
        if user is None or not user.active or elsewhere is not None:
            raise AuthenticationError(Msg.BAD_CREDENTIALS)
        actor = Actor(user.id, user.username, user.full_name, Role(user.role), user.must_change_password)
        signer = Signer(account, unlocked.keys)
        hub = HubSession(store, keyfile, actor, signer, clock or SystemClock(), workstation_id())
        with store.write(data=False) as session:
            audit.append_many(session, hub.clock, hub.workstation,
                              [AuditEntry(Action.LOGIN, actor.username, actor.role.value, detail="hub")], signer)
        return hub
    except BaseException:
        store.close()
        raise
