"""The site's services on the hub: a ``Workspace`` whose site is the hub (for ``export --dsn``).

The services only use a few things of their ``Site``: the store, the clock, the key file, the workstation label, the
signed-in user's signer, and the trail head note. ``HubSite`` gives those over a ``HubSession``; what only a site
file can do (issue a certificate on the spot, rotate keys) is not offered here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from msc_sle_crf.errors import AuthenticationError, Msg
from msc_sle_crf.hub.session import HubSession
from msc_sle_crf.security.keyslots import KeySlotFile
from msc_sle_crf.security.personal import PersonalKeys, Signer
from msc_sle_crf.store.account_state import DisabledElsewhere, disabled_elsewhere


class HubSite:
    """What the services read of a ``Site``, for the hub."""

    training = False

    def __init__(self, hub: HubSession, keys_path: Path) -> None:
        self.hub = hub
        self.store = hub.store
        self.clock = hub.clock
        self.keyfile: KeySlotFile = hub.keyfile
        self.workstation = hub.workstation
        self.db_path = Path(keys_path)  # what output paths are compared with (never written)
        self.binding_epoch = 0
        self._signers = {hub.signer.username: hub.signer}
        self._elsewhere: dict[str, DisabledElsewhere | None] = {}

    def signer(self, username: str) -> Signer:
        signer = self._signers.get(username)
        if signer is None:
            raise AuthenticationError(Msg.NOT_SIGNED_IN)
        return signer

    def disabled_elsewhere(self, account: str, session: Any = None) -> DisabledElsewhere | None:
        """As ``Site.disabled_elsewhere``: a disable made on a workstation and ingested here (issue 18). Read once:
        the hub's sign-in checked it already, and a command's session ingests nothing meanwhile."""
        if account not in self._elsewhere:
            if session is not None:
                self._elsewhere[account] = disabled_elsewhere(session, account)
            else:
                with self.store.read() as own:
                    self._elsewhere[account] = disabled_elsewhere(own, account)
        return self._elsewhere[account]

    def has_signer(self, username: str) -> bool:
        return username in self._signers

    @property
    def last_signer(self) -> Signer | None:
        return self.hub.signer

    def note_head(self, _record_id: int, _record_hash: str, _ts_utc: str) -> None:
        """The site keeps the trail head outside its WAL (crash evidence); the server's own log does that here."""

    def issue_certificate(self, _account: str, _signer: Signer, _opener: PersonalKeys,
                          _role: str | None = None) -> bool:
        return False  # certificates are issued on a workstation of the site (the hub copies them in packets)

    def anchor_audit(self) -> None:
        """The hub's key file is anchored by ``hub init``; nothing else rewrites it."""

    def close(self) -> None:
        self.hub.close()


def hub_workspace(hub: HubSession, keys_path: Path) -> Any:
    """A ``Workspace`` of the hub's signed-in user."""
    from msc_sle_crf.services import Workspace

    site = HubSite(hub, keys_path)
    return Workspace(cast(Any, site), hub.actor)
