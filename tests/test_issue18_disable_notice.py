"""A departing user disabled on one workstation (issue 18): found by a new user trying two laptops, the account could
still sign in on the other laptop and nothing said so. A disable is each workstation's own act (it re-keys that
database); the packet that carries it now tells whoever applies it, in one line per account."""

from __future__ import annotations

from pathlib import Path

from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync.service import Packets
from tests.conftest import ADMIN_PW

from .helpers.packets import PW, make_pair


def test_a_disable_made_elsewhere_is_announced_where_the_account_can_still_sign_in(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    site = Site.open(pair.a_db, clock=pair.clock)
    with site:
        Workspace.sign_in(site, "admin", ADMIN_PW).accounts.disable_user("monitor.m", "left the unit")
    packet = pair.export("A")
    assert packet is not None
    site, ws = pair.open("B")
    with site:
        outcome = Packets(ws.ctx, ws.study).import_file(packet)
    line = outcome.line()
    assert "monitor.m was disabled on WS-01 but can still sign in on this workstation" in line.en
    assert "monitor.m a été désactivé sur le poste WS-01 mais peut encore se connecter" in line.fr
    # still true (the disable is B's own act), and said, not hidden
    site_b = Site.open(pair.b_db, clock=pair.clock)
    with site_b:
        Workspace.sign_in(site_b, "monitor.m", PW["monitor.m"])
        Workspace.sign_in(site_b, "admin", ADMIN_PW).accounts.disable_user("monitor.m", "left the unit")
    # once disabled here too, a later packet says nothing more about it
    site = Site.open(pair.a_db, clock=pair.clock)
    with site:
        Workspace.sign_in(site, "dr.a", PW["dr.a"]).subjects.register("GHI", 1990, "F")
    again = pair.export("A")
    assert again is not None
    site, ws = pair.open("B")
    with site:
        assert "disabled" not in Packets(ws.ctx, ws.study).import_file(again).line().en
