"""h68: a conflict's id names both of its sides (sync/merge.py ``pair_id``; h67 found two different conflicts with
one id, ``conflict_id(other)`` being made from the later side only). A record written since says so (``"id":
"pair"``) and the replay checks its id against its sides; records written before keep their id as written (the
h67 made-up-decision test writes one with the old rule: it still verifies)."""

from __future__ import annotations

import json
from pathlib import Path

from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.sync.merge import CONFLICT_BASE, PAIR_SPAN, Change, conflict_id, pair_id

from .atk_common import as_user, export, forge, import_line, problems, scalar, two_sites
from .test_atk_merge_records import _instance


def test_the_id_names_both_sides() -> None:
    a90 = Change("90", "dr.a", "WS-01", 40, "2026-12-03T10:03:00Z")
    b92 = Change("92", "dr.a", "WS-02", 40, "2026-12-03T10:02:00Z")
    c95 = Change("95", "dr.a", "WS-03", 40, "2026-12-03T10:01:00Z")
    assert conflict_id(a90) == conflict_id(a90)  # the old rule: both conflicts below had this one id
    assert pair_id(b92, a90) == pair_id(a90, b92)  # the same conflict, whichever side found it
    assert pair_id(b92, a90) != pair_id(c95, a90)  # two conflicts with one side in common
    assert all(CONFLICT_BASE <= pair_id(x, a90) < CONFLICT_BASE + PAIR_SPAN <= 2**31 - 1 for x in (b92, c95))


def test_a_conflict_record_whose_id_its_sides_do_not_make_is_refused(
        tmp_path: Path, site: Site, admin: Workspace, clock: FakeClock) -> None:
    """A real conflict restated by an insider under another id (and the conflict row she adds for it): before, the
    replay took the id as written and opened a second conflict (it voids the form's signatures)."""
    ws1, ws2 = two_sites(tmp_path, site, admin, clock)
    doctor = as_user(ws2, "dr.house")
    doctor.subjects.register("DEF", 1975, "M")
    from msc_sle_crf.services.entry import FormRef

    ref = FormRef(doctor.subjects.list()[-1].subject_number, "SCR", "demographics")
    doctor.entry.save_item(ref, ("dm", 0, "HEIGHT"), "170")
    assert "applied" in import_line(ws1, export(ws2, tmp_path / "p1"))
    clock.advance(60)
    as_user(ws1, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "171")
    clock.advance(60)
    as_user(ws2, "dr.house").entry.save_item(ref, ("dm", 0, "HEIGHT"), "172")
    assert "applied" in import_line(ws2, export(ws1, tmp_path / "p2"))
    real = json.loads(str(scalar(ws2, "select detail from audit_event where action = 'merge_conflict'")))
    assert real["kind"] == "item" and real["id"] == "pair" and problems(ws2) == []
    other_id = real["conflict"] + 1 if real["conflict"] + 1 < CONFLICT_BASE + PAIR_SPAN else real["conflict"] - 1
    kept, other = (json.dumps(real[k], sort_keys=True) for k in ("kept", "other"))
    opened = max(str(real["kept"]["utc"]), str(real["other"]["utc"]))
    forge(ws2, "nurse.n", [AuditEntry(Action.MERGE_CONFLICT, "nurse.n", "nurse", subject=ref.subject, visit=ref.event,
                                      form=ref.form, item="HEIGHT", repeat_key="dm:0", old_value=real["other"]["text"],
                                      new_value=real["kept"]["text"],
                                      detail=json.dumps({**real, "conflict": other_id}))],
          [f"insert into item_conflict (id, instance_id, group_id, row_no, item_id, kept, other, status, opened_utc) "
           f"values ({other_id}, {_instance(ref)}, 'dm', 0, 'HEIGHT', '{kept}', '{other}', 'open', '{opened}')"])
    found = problems(ws2)
    assert any("merge_conflict record" in p and "is not the one its two sides make" in p for p in found), found


def test_a_later_change_meets_a_decision_alike_whichever_packet_comes_first(tmp_path: Path) -> None:
    """h67's decided scenario with the packets crossed: A's 93 (after its packet a1) leaves in a2 before A applies
    B's b1 (which carries B's decision 92 over A's 90). B meets 93 in a2, A meets B's decision in b1: each says a
    conflict, both keep the same value under the same conflict id, the next packets are taken and both verify."""
    from decimal import Decimal

    from .helpers.packets import CREAT, R1, make_pair
    from .test_issue18_packets import value, verify_clean

    pair = make_pair(tmp_path)
    for which, text in (("B", "92"), ("A", "90")):
        site, ws = pair.open(which)
        with site:
            pair.clock.advance(60)
            ws.entry.save_item(R1, CREAT, text, reason=f"re-read on {which}")
    a1 = pair.export("A")
    assert a1 is not None
    assert pair.import_("B", a1).conflicts == 1  # 92 (B, recorded first) kept
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.entry.save_item(R1, CREAT, "93", reason="third sample on A")
    a2, b1 = pair.export("A"), pair.export("B")
    assert a2 is not None and b1 is not None
    assert pair.import_("B", a2).conflicts == 1  # 93 against B's decided 92
    assert pair.import_("A", b1).conflicts == 1  # before: 92 applied over 93, no conflict said
    assert value(pair, "A", R1, CREAT) == value(pair, "B", R1, CREAT) == Decimal("92")
    ids = []
    for which in ("A", "B"):
        site, ws = pair.open(which)
        with site, ws.ctx.read() as s:
            from sqlalchemy import text

            ids.append(sorted(s.execute(text("select id from item_conflict")).scalars()))
    assert ids[0] == ids[1] and len(ids[0]) == 2, ids
    a3, b2 = pair.export("A"), pair.export("B")
    assert a3 is not None and b2 is not None
    assert pair.import_("B", a3).conflicts == 0
    assert pair.import_("A", b2).conflicts == 0
    for which in ("A", "B"):
        verify_clean(pair, which)


def test_the_hub_takes_the_form_state_packets_of_h67(hub_db, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """h67's form-state scenario (B complete + verified, A complete: 'complete' kept; A then signs before it applies
    B's decision) ingested by the hub in the order written: a1, b1, a2 taken, the hub verifies, its form as A's."""
    import io

    from msc_sle_crf.cli import main
    from msc_sle_crf.hub.init import init_hub
    from msc_sle_crf.hub.verify import verify_hub

    from .conftest import ADMIN_PW
    from .helpers.packets import PW, R1, make_pair
    from .hub_pg import APP_ROLE

    pair = make_pair(tmp_path)
    hub_dir = tmp_path / "hub"
    init_hub(hub_db.owner_dsn(), pair.a_db, "admin", ADMIN_PW, hub_dir, APP_ROLE, clock=pair.clock)
    for which, user in (("B", "dr.a"), ("B", "monitor.m"), ("A", "dr.a")):
        site, ws = pair.open(which, user)
        with site:
            pair.clock.advance(60)
            if user == "monitor.m":
                ws.lifecycle.source_verify(R1)
            else:
                ws.entry.mark_complete(R1)
    a1 = pair.export("A")
    assert a1 is not None
    assert pair.import_("B", a1).conflicts == 1
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
    b1 = pair.export("B")
    assert b1 is not None
    assert pair.import_("A", b1).conflicts == 1  # the signature made after B's decision meets it: said
    a2 = pair.export("A")
    assert a2 is not None
    pair.import_("B", a2)
    site, ws = pair.open("A")
    with site:
        on_a = ws.entry.statuses(R1.subject)[(R1.event, R1.form)].value
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    for packet in (a1, b1, a2):
        monkeypatch.setattr("sys.stdin", io.StringIO(PW["dr.a"] + "\n"))
        code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(hub_dir / "hub.keys"),
                     "--user", "dr.a", "--password-stdin", str(packet)])
        out, err = capsys.readouterr()
        assert code == 0, (packet.name, out + err)
    report = verify_hub(hub_db.app_dsn(), hub_dir / "hub.keys")
    assert report.ok, (report.audit.problem, report.anchor_problems, report.unexplained, report.replay_problem)
    with hub_db.connect() as conn:
        on_hub = conn.execute("select i.status from form_instance i join subject s on s.id = i.subject_id "
                              "where s.subject_number = %s and i.event_id = %s and i.form_id = %s",
                              (R1.subject, R1.event, R1.form)).fetchone()
    assert on_hub == (on_a,)


def test_a_signature_after_a_form_conflict_both_found_stands_when_the_others_decision_arrives(
        tmp_path: Path) -> None:
    """Crossed packets: B (complete, verified) and A (complete) each find the form state conflict and keep
    'complete'. A's investigator then signs. B's next packet carries B's own record of that same conflict: it
    decides nothing new on A (the same two sides), so A's signature stands (before: A's form set back to complete,
    no conflict said); B takes the signature; both verify."""
    from msc_sle_crf.status import FormStatus

    from .helpers.packets import PW, R1, make_pair
    from .test_issue18_packets import verify_clean

    pair = make_pair(tmp_path)
    for which, user in (("B", "dr.a"), ("B", "monitor.m"), ("A", "dr.a")):
        site, ws = pair.open(which, user)
        with site:
            pair.clock.advance(60)
            if user == "monitor.m":
                ws.lifecycle.source_verify(R1)
            else:
                ws.entry.mark_complete(R1)
    a1, b1 = pair.export("A"), pair.export("B")
    assert a1 is not None and b1 is not None
    assert pair.import_("B", a1).conflicts == 1
    assert pair.import_("A", b1).conflicts == 1
    site, ws = pair.open("A")
    with site:
        pair.clock.advance(60)
        ws.lifecycle.sign(R1, "dr.a", PW["dr.a"], "approval")
    b2, a2 = pair.export("B"), pair.export("A")
    assert b2 is not None and a2 is not None
    assert pair.import_("A", b2).conflicts == 0
    assert pair.import_("B", a2).conflicts == 0
    for which in ("A", "B"):
        site, ws = pair.open(which)
        with site:
            assert ws.entry.statuses(R1.subject)[(R1.event, R1.form)] == FormStatus.SIGNED, which
        verify_clean(pair, which)
