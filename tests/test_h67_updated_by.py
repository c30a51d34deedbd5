"""h67, insider (nurse.n, WS-02's database, raw SQL): the stored author of a value (item_value.updated_by) is taken
from rows.json as it comes. She enters a heart rate (her record, hers), then sets the row's updated_by to dr.a with
SQL and exports: WS-01 stores the value as last changed by dr.a; verify on both databases and WS-01's import say
nothing (the replay compares the value, not who the row says changed it). Low severity today: no screen, export or
PDF reads updated_by; anything that does later inherits the false attribution."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.helpers.packets import Pair, make_pair
from tests.test_h67_made_up_decision import HR, VS
from tests.test_issue18_packets import verify_clean


def _author(pair: Pair, which: str) -> str:
    site, ws = pair.open(which, "admin")
    with site, ws.ctx.read() as s:
        return str(s.execute(text(
            "select u.username from item_value v join app_user u on u.id = v.updated_by where v.item_id = 'VSHR' "
            "and v.row_no = :row"), {"row": HR[1]}).scalar_one())


def _scenario(tmp_path: Path, rewrite: bool) -> Pair:
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        assert ws.entry.add_row(VS, "vs").row == HR[1]
    a0 = pair.export("A")
    assert a0 is not None
    pair.import_("B", a0)
    site, ws = pair.open("B", "nurse.n")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(VS, HR, "72")
        if rewrite:
            with ws.ctx.store.write() as s:
                s.execute(text("update item_value set updated_by = (select id from app_user where username = "
                               "'dr.a') where item_id = 'VSHR'"))
    b1 = pair.export("B")
    assert b1 is not None
    pair.import_("A", b1)
    return pair


def test_control_her_value_is_stored_as_hers(tmp_path: Path) -> None:
    pair = _scenario(tmp_path, rewrite=False)
    assert _author(pair, "A") == "nurse.n"


def test_a_value_rewritten_as_another_users_is_not_stored_as_theirs(tmp_path: Path) -> None:
    pair = _scenario(tmp_path, rewrite=True)
    verify_clean(pair, "B")  # her copy verifies clean with the rewritten row (today)
    assert _author(pair, "A") == "nurse.n"
