"""h67, insider (nurse.n, WS-02's database and her password): a merge_conflict record she writes herself, whose two
sides are real records of the item from two workstations (WS-01's value, which reached WS-02 before she changed it,
and her own later change) turns her plain sequential change into "a conflict already decided". WS-01 applies such a
packet as it is (merge.py ``decided``): a value WS-01's doctor entered after everything her packet knew is replaced by
hers with no conflict and no query; the replay (verify, import) finds the record valid. Without the made-up record
the same packet opens a conflict on WS-01 (control)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from msc_sle_crf import audit
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.sync.merge import Change, conflict_id
from msc_sle_crf.sync.packets import ImportResult
from tests.helpers.packets import Pair, make_pair
from tests.test_issue18_packets import value

NURSE = "nurse.n"
VS = FormRef("01-001", "D0", "vital_signs")  # a nursing form: hers to enter
HR = ("vs", 1, "VSHR")


def _save(pair: Pair, which: str, user: str, txt: str) -> None:
    site, ws = pair.open(which, user)
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(VS, HR, txt, reason=f"re-read ({txt})")


def _made_up_decision(pair: Pair) -> None:
    """On her copy of WS-02: a merge_conflict keeping her 72 over WS-01's 70 (both real records of the item), and
    the conflict row the merge would have written."""
    site, ws = pair.open("B", NURSE)
    with site:
        with ws.ctx.read() as s:
            q = ("select id, origin, username, ts_utc, new_value from audit_event where subject='01-001' and "
                 "item='VSHR' and action in ('data_entry', 'data_change') order by id")
            recs = s.execute(text(q)).all()
            iid, canonical = s.execute(text(
                "select v.instance_id, v.canonical from item_value v join form_instance i on i.id = v.instance_id "
                "join subject x on x.id = i.subject_id where x.subject_number='01-001' and v.item_id='VSHR'")).one()
        mine = recs[-1]
        theirs = next(r for r in reversed(recs) if r.origin and r.new_value == "70")
        origin = json.loads(theirs.origin)
        kept = Change("72", NURSE, "WS-02", int(mine.id), str(mine.ts_utc))
        other = Change("70", str(theirs.username), str(origin["ws"]), int(origin["id"]), str(theirs.ts_utc))
        cid = conflict_id(other)
        detail = {"kind": "item", "conflict": cid, "canonical": canonical, "kept": kept.as_dict(None),
                  "other": other.as_dict(None)}
        entry = AuditEntry(Action.MERGE_CONFLICT, NURSE, "nurse", subject="01-001", visit="D0",
                           form="vital_signs", item="VSHR", repeat_key="vs:1", old_value="70", new_value="72",
                           detail=json.dumps(detail, sort_keys=True))
        with ws.ctx.store.write() as s:
            s.execute(text("insert into item_conflict (id, instance_id, group_id, row_no, item_id, kept, other, "
                           "status, opened_utc) values (:id, :iid, 'vs', 1, 'VSHR', :kept, :other, 'open', :opened)"),
                      {"id": cid, "iid": iid, "kept": json.dumps(kept.as_dict(None), sort_keys=True),
                       "other": json.dumps(other.as_dict(None), sort_keys=True), "opened": kept.utc})
            audit.append_many(s, ws.ctx.clock, site.workstation, [entry], site.signer(NURSE))


def _scenario(tmp_path: Path, made_up: bool) -> tuple[Pair, ImportResult]:
    pair = make_pair(tmp_path)
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        assert ws.entry.add_row(VS, "vs").row == HR[1]
    _save(pair, "A", "dr.a", "70")
    a1 = pair.export("A")
    assert a1 is not None
    assert pair.import_("B", a1).conflicts == 0  # WS-02 takes WS-01's 70: no conflict
    _save(pair, "B", NURSE, "72")  # her change, made after she saw 70
    _save(pair, "A", "dr.a", "74")  # WS-01's doctor, later, never seeing hers
    if made_up:
        _made_up_decision(pair)
    b1 = pair.export("B")
    assert b1 is not None
    return pair, pair.import_("A", b1)


def test_control_her_plain_change_opens_a_conflict_on_ws01(tmp_path: Path) -> None:
    _pair, result = _scenario(tmp_path, made_up=False)
    assert result.conflicts == 1


def test_a_made_up_decision_does_not_overwrite_ws01s_later_value_silently(tmp_path: Path) -> None:
    pair, result = _scenario(tmp_path, made_up=True)  # today: applied, no refusal
    assert value(pair, "A", VS, HR) == Decimal("74") or result.conflicts >= 1, (
        value(pair, "A", VS, HR), result.conflicts)


def test_after_a_made_up_decision_ws01s_next_genuine_packet_is_taken_on_ws02(tmp_path: Path) -> None:
    """Today both databases verify clean after it, and WS-01's next genuine packet (carrying its 74) is refused on
    WS-02 as 'not as its author's' (stored 72, the trail says 74): WS-01 -> WS-02 stops for good."""
    pair, _result = _scenario(tmp_path, made_up=True)
    a2 = pair.export("A")
    assert a2 is not None
    pair.import_("B", a2)
