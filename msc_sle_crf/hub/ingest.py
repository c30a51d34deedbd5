"""``hub ingest``: packets applied to the hub by the packet import (``msc_sle_crf.sync.packets.import_packet``, the
same rules as on a workstation), each one in its own hub transaction (all or nothing; writers serialised).

Interface used (documented in sync/packets.py)::

    keys = sync.secret.import_keys(session, clock, ..., header=, code=)   # the site's packet secret (copied by hub
                                           # init; a renewed generation taken with its one-time code)
    result = import_packet(session, clock, workstation_label, signer, actor_username, actor_role, packet_bytes,
                           *, packet_key=keys, expected_db_id=db_id)   # -> ImportResult (.duplicate, ...)
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from msc_sle_crf.fileutil import check_input_file
from msc_sle_crf.hub.session import HubSession
from msc_sle_crf.hub.store import HubError
from msc_sle_crf.i18n import L

MAX_PACKET_BYTES = 2 << 30


def _packets_module() -> Any:
    try:
        module = importlib.import_module("msc_sle_crf.sync.packets")
    except ImportError:
        module = None
    if module is None or not hasattr(module, "import_packet") or not hasattr(module, "packet_key"):
        raise HubError(L("packet import is not available in this version of the program",
                         "l'import de paquets n'est pas disponible dans cette version du programme"))
    return module


def describe(result: Any) -> L:
    if getattr(result, "duplicate", False):
        return L("already imported: nothing changed", "déjà importé : rien n'a changé")
    applied = getattr(result, "copied", getattr(result, "applied", None))
    conflicts = getattr(result, "conflicts", None)
    en = "applied" + (f": {applied} record(s)" if applied is not None else "")
    fr = "appliqué" + (f" : {applied} enregistrement(s)" if applied is not None else "")
    if conflicts:
        en += f", {conflicts} conflict(s) kept side by side (queries opened)"
        fr += f", {conflicts} conflit(s) conservé(s) côte à côte (requêtes ouvertes)"
    return L(en, fr)


def _header(module: Any, path: str) -> dict[str, Any] | None:
    """The packet's clear header (its generation of the site's packet secret), read from its first bytes only."""
    if not hasattr(module, "header_of"):
        return None
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    header = module.header_of(head)
    return header if isinstance(header, dict) else None


def ingest_packets(hub: HubSession, packets: Sequence[Path], code: str | None = None) -> Iterator[tuple[Path, L]]:
    """As ``packet import`` on a workstation: whoever handles the data (VIEW_DATA) or the encrypted copies of the
    database (BACKUP: administrators) may apply packets; a one-time password must be changed first (on a site).
    ``code``: the one-time code of a renewal of the site's packet secret the hub does not hold yet (i18-secret)."""
    from msc_sle_crf.access import Perm, allowed
    from msc_sle_crf.errors import AuthenticationError, Msg, PermissionDenied
    from msc_sle_crf.i18n import Lang
    from msc_sle_crf.services.context import role_l
    from msc_sle_crf.sync import secret

    actor = hub.actor
    if actor.must_change_password:
        raise AuthenticationError(Msg.PASSWORD_CHANGE_REQUIRED)
    if not (allowed(actor.role, Perm.BACKUP) or allowed(actor.role, Perm.VIEW_DATA)):
        raise PermissionDenied(Msg.PERMISSION_DENIED, role=role_l(actor.role),
                               action=L(Perm.VIEW_DATA.describe(Lang.EN), Perm.VIEW_DATA.describe(Lang.FR)))
    module = _packets_module()
    files = [check_input_file(str(p), max_bytes=MAX_PACKET_BYTES) for p in packets]  # all readable, before any
    takes_name = "name" in inspect.signature(module.import_packet).parameters
    for path in files:
        named = {"name": Path(path).name} if takes_name else {}  # what its refusals call the file
        with hub.store.write() as session:
            # the site's packet secret (copied by hub init; made here, audited, for a hub made before it existed)
            keys = secret.import_keys(session, hub.clock, hub.workstation, hub.signer, hub.actor.username,
                                      hub.actor.role.value, db_key=hub.store.key, db_id=hub.db_id,
                                      header=_header(module, str(path)), code=code, name=Path(path).name)
            # the file's bytes are held by the import only, which lets them go once the packet is decrypted and
            # read (a workstation's packet: ~256 MB): no local name for them, and no call through ``**named``
            # or ``*args`` (its argument tuple would hold them until the import returns)
            username, role = hub.actor.username, hub.actor.role.value
            if named:
                result = module.import_packet(session, hub.clock, hub.workstation, hub.signer, username, role,
                                              Path(path).read_bytes(), packet_key=keys, expected_db_id=hub.db_id,
                                              name=named["name"])
            else:
                result = module.import_packet(session, hub.clock, hub.workstation, hub.signer, username, role,
                                              Path(path).read_bytes(), packet_key=keys, expected_db_id=hub.db_id)
        yield Path(path), describe(result)
