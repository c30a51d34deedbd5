"""The hub on a real PostgreSQL server over real TLS (issue 18, docs/workstations.md "The hub").

The server is the throwaway cluster of tests/hub_pg.py (TLS only, its own CA); each test has its own database, owner
role and the shared application role of least privilege."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from msc_sle_crf.cli import main
from msc_sle_crf.clock import FakeClock
from msc_sle_crf.export import ExportOptions
from msc_sle_crf.hub import schema
from msc_sle_crf.hub.init import init_hub
from msc_sle_crf.hub.store import HubError, HubStore, parse_dsn
from msc_sle_crf.hub.verify import verify_hub
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.store.tables import Base
from tests.helpers.demo_data import monitored_demo
from tests.hub_pg import APP_ROLE, HubDb

APPEND_ONLY = ("audit_event", "infusion_event", "signature", "query_message", "item_verification", "certificate",
               "sync_packet_out", "sync_packet_in")


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TRAINING database with a changed value, a signature, an SDV mark and an answered query."""
    return monitored_demo(tmp_path_factory.mktemp("hub") / "demo.crfdb")


@pytest.fixture
def site_copy(demo_site: Path, tmp_path: Path) -> Path:
    """A copy of the demo site per test (hub init audits on the site)."""
    import shutil

    dest = tmp_path / "site" / "demo.crfdb"
    dest.parent.mkdir()
    for suffix in ("", ".keys"):
        shutil.copyfile(f"{demo_site}{suffix}", f"{dest}{suffix}")
    return dest


def _initialised(hub_db: HubDb, site: Path, out: Path) -> Path:
    init_hub(hub_db.owner_dsn(), site, "admin", "training-manager", out, APP_ROLE, clock=FakeClock())
    return out / "hub.keys"


# ----- the schema ---------------------------------------------------------------------------------------------------
def test_migrations_on_postgresql_match_the_models_and_the_site_schema(hub_db: HubDb, site) -> None:
    hub = HubStore(hub_db.owner_dsn())
    schema.upgrade(hub, APP_ROLE)
    with hub.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        pg = inspect(conn)
        pg_tables = {t: sorted(c["name"] for c in pg.get_columns(t)) for t in pg.get_table_names()}
        # (PostgreSQL also lists the index behind each unique constraint: those are compared as constraints)
        pg_indexes = {t: sorted(i["name"] for i in pg.get_indexes(t) if "duplicates_constraint" not in i)
                      for t in pg_tables}
        pg_unique = {t: sorted(u["name"] for u in pg.get_unique_constraints(t)) for t in pg_tables}
    with site.store.write_engine.connect() as conn:
        lite = inspect(conn)
        lite_tables = {t: sorted(c["name"] for c in lite.get_columns(t)) for t in lite.get_table_names()}
        lite_indexes = {t: sorted(i["name"] for i in lite.get_indexes(t)) for t in lite_tables}
        lite_unique = {t: sorted(u["name"] for u in lite.get_unique_constraints(t)) for t in lite_tables}
    assert pg_tables == lite_tables
    assert pg_indexes == lite_indexes
    assert pg_unique == lite_unique
    assert "audit_event" in pg_tables and "origin" in pg_tables["audit_event"]
    hub.close()


def test_the_application_role_cannot_rewrite_history(hub_db: HubDb) -> None:
    hub = HubStore(hub_db.owner_dsn())
    schema.upgrade(hub, APP_ROLE)
    hub.close()
    with hub_db.connect("app") as conn:
        for table in APPEND_ONLY:
            column = "seq" if table.startswith("sync_") else "id"
            for sql in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                    conn.execute(sql)
            conn.execute(f"SELECT count(*) FROM {table}")  # reading is allowed
        for sql in ("DROP TRIGGER audit_event_no_update ON audit_event",
                    "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update",
                    "DROP TABLE audit_event", "CREATE TABLE x (i int)", "ALTER TABLE subject ADD COLUMN x int",
                    "DELETE FROM subject", "DELETE FROM item_value"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        conn.execute("UPDATE subject SET status = status")  # mutable tables may change (no rows here)
        conn.execute("DELETE FROM draft")  # the one table whose rows go
    # even the owner meets the guards unless it drops them on purpose
    with hub_db.connect("owner") as conn:
        conn.execute("INSERT INTO app_user (id, username, full_name, role, active, must_change_password, "
                     "created_utc) VALUES (1, 'a', 'A', 'admin', true, false, 'now')")
        conn.execute("INSERT INTO certificate (username, serial, cert_pem, issued_utc) VALUES ('a', '1', 'x', 'n')")
        for sql in ("UPDATE certificate SET serial = '2'", "DELETE FROM certificate", "TRUNCATE certificate"):
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                conn.execute(sql)


# ----- TLS and secrets --------------------------------------------------------------------------------------------
def test_a_connection_without_tls_is_refused_by_the_server(hub_db: HubDb) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(hub_db.app_dsn(sslmode="disable"))
    with psycopg.connect(hub_db.app_dsn()) as conn:  # the same role over TLS, the server's certificate checked
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require"])
def test_weak_sslmodes_are_refused_before_connecting(hub_db: HubDb, mode: str) -> None:
    with pytest.raises(HubError) as exc:
        parse_dsn(hub_db.app_dsn(sslmode=mode))
    assert f"sslmode={mode} is refused" in exc.value.message()
    assert hub_db.cluster.app_password not in exc.value.message()


def test_a_dsn_without_sslmode_is_refused_and_verify_ca_is_accepted(hub_db: HubDb,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGSSLMODE", raising=False)
    with pytest.raises(HubError, match="sslmode=prefer"):
        parse_dsn(f"host=localhost port={hub_db.cluster.port} dbname={hub_db.name}")
    assert parse_dsn(hub_db.app_dsn(sslmode="verify-ca"))["sslmode"] == "verify-ca"


def test_a_wrong_password_is_one_line_without_the_password(hub_db: HubDb, tmp_path: Path, site_copy: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    secret = "Wr0ng-s3cret-" + "x" * 8
    dsn = hub_db.cluster.url(hub_db.owner, secret, hub_db.name)
    with pytest.raises(HubError) as exc, HubStore(dsn).read() as session:
        session.connection()
    message = exc.value.message()
    assert "password authentication failed" in message
    assert secret not in message and "\n" not in message
    caplog.set_level(logging.DEBUG)
    code = main(["hub", "verify", "--dsn", dsn, "--keys", str(site_copy) + ".keys"])
    out, err = capsys.readouterr()
    assert code != 0
    assert err.count("\n") == 1 and "password authentication failed" in err and "Traceback" not in err
    assert secret not in out + err + caplog.text
    import os

    logs = [*Path(os.environ["MSC_SLE_CRF_LOG_DIR"]).glob("*.log*"), hub_db.cluster.log_file]
    assert hub_db.cluster.log_file.exists()
    for log in logs:  # the program's own log, and the server's
        assert secret not in log.read_text(errors="replace")
    code = main(["hub", "init", "--dsn", dsn.replace("verify-full", "require"), "--from", str(site_copy),
                 "--user", "admin", "--app-role", APP_ROLE, "--out", str(tmp_path / "h"), "--password-stdin"])
    out, err = capsys.readouterr()
    assert code != 0 and "sslmode=require is refused" in err and secret not in err and err.count("\n") == 1


# ----- init, verify, tampering ------------------------------------------------------------------------------------
def test_hub_init_copies_the_site_and_hub_verify_passes(hub_db: HubDb, site_copy: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("training-manager\n"))
    out = tmp_path / "hub"
    # the owner's password comes from the environment (libpq's PGPASSWORD), not from the DSN
    monkeypatch.setenv("PGPASSWORD", hub_db.owner_password)
    code = main(["hub", "init", "--dsn", hub_db.owner_dsn_no_password(), "--from", str(site_copy), "--user", "admin",
                 "--app-role", APP_ROLE, "--out", str(out), "--password-stdin"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "Hub created" in stdout
    config = json.loads((out / "hub.json").read_text())
    assert "password" not in json.dumps(config) and hub_db.owner_password not in json.dumps(config)
    assert config["workstation"] == "HUB" and config["server"]["sslmode"] == "verify-full"
    # every row and record is on the hub, ids kept
    site = Site.open(site_copy, clock=FakeClock())
    Workspace.sign_in(site, "admin", "training-manager")
    assert site.store is not None
    site_counts = {}
    raw = site.store.raw_connection()
    try:
        for table in Base.metadata.sorted_tables:
            site_counts[table.name] = raw.execute(f"SELECT count(*), coalesce(max(rowid), 0) FROM {table.name}"
                                                  ).fetchone()[0]
        site_last = raw.execute("SELECT max(id) FROM audit_event").fetchone()[0]
        site_hash = raw.execute("SELECT hash FROM audit_event WHERE id = 5").fetchone()[0]
    finally:
        raw.close()
        site.close()
    with hub_db.connect("app") as conn:
        for table, count in site_counts.items():
            hub_count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if table == "audit_event":  # the site's records (its sign-in above came after the copy) + the hub's own
                assert hub_count >= 3
            elif table == "site_setting":
                assert hub_count >= count
            else:
                assert hub_count == count, table
        assert conn.execute("SELECT hash FROM audit_event WHERE id = 5").fetchone()[0] == site_hash
        assert conn.execute("SELECT value FROM site_setting WHERE key = 'workstation_id'").fetchone()[0] == "HUB"
        # the site recorded (and the hub holds, as the last record it copied) where its data went
        assert conn.execute("SELECT detail FROM audit_event WHERE action = 'backup' ORDER BY id DESC LIMIT 1"
                            ).fetchone()[0].endswith(f"-> {hub_db.owner}@localhost:{hub_db.cluster.port}/{hub_db.name}")
        assert conn.execute("SELECT count(*) FROM audit_event WHERE id < %s", (site_last,)).fetchone()[0] \
            == site_last - 1
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    code = main(["hub", "verify", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(out / "hub.keys")])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "Audit trail: OK" in stdout and "Data against the trail: OK" in stdout


def test_hub_init_refuses_a_hub_that_is_not_empty(hub_db: HubDb, site_copy: Path, tmp_path: Path) -> None:
    _initialised(hub_db, site_copy, tmp_path / "a")
    with pytest.raises(HubError, match="already holds tables"):
        _initialised(hub_db, site_copy, tmp_path / "b")


def test_a_tampered_record_on_the_hub_is_named_by_hub_verify(hub_db: HubDb, site_copy: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    keys = _initialised(hub_db, site_copy, tmp_path / "hub")
    assert verify_hub(hub_db.app_dsn(), keys).ok
    with hub_db.connect("owner") as conn:  # the owner role can get past the guard, on purpose
        target = conn.execute("SELECT id FROM audit_event WHERE action = 'data_change' ORDER BY id LIMIT 1"
                              ).fetchone()[0]
        conn.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update")
        conn.execute("UPDATE audit_event SET new_value = '999' WHERE id = %s", (target,))
        conn.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update")
    report = verify_hub(hub_db.app_dsn(), keys)
    assert not report.ok
    assert report.audit.first_bad_id == target
    assert "altered" in (report.audit.problem or "")
    code = main(["hub", "verify", "--dsn", hub_db.app_dsn(), "--keys", str(keys)])
    _out, err = capsys.readouterr()
    assert code == 6
    assert f"#{target}" in err and "Traceback" not in err


def test_a_removed_tail_on_the_hub_is_named_by_hub_verify(hub_db: HubDb, site_copy: Path, tmp_path: Path) -> None:
    keys = _initialised(hub_db, site_copy, tmp_path / "hub")
    with hub_db.connect("owner") as conn:
        last = conn.execute("SELECT max(id) FROM audit_event").fetchone()[0]
        conn.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_delete")
        # the whole last transaction (a cut inside one is named as unsigned records)
        conn.execute("DELETE FROM audit_event WHERE id > (SELECT max(id) FROM audit_event WHERE sig IS NOT NULL "
                     "AND id < %s)", (last,))
    report = verify_hub(hub_db.app_dsn(), keys)
    assert not report.ok and report.audit.first_bad_id == last
    assert "gone" in (report.audit.problem or "")


def test_the_application_role_appends_to_the_trail_through_the_hub_store(hub_db: HubDb, site_copy: Path,
                                                                         tmp_path: Path) -> None:
    """What ``hub ingest`` does through the packet import: ORM writes and audit records, as the application role."""
    from msc_sle_crf import audit
    from msc_sle_crf.audit import Action, AuditEntry
    from msc_sle_crf.hub.session import open_hub

    keys = _initialised(hub_db, site_copy, tmp_path / "hub")
    with open_hub(hub_db.app_dsn(), keys, "admin", "training-manager", clock=FakeClock()) as hub:
        with hub.store.write() as session:
            written = audit.append_many(session, hub.clock, hub.workstation,
                                        [AuditEntry(Action.EXPORT, "admin", "admin", detail="one"),
                                         AuditEntry(Action.EXPORT, "admin", "admin", detail="two")], hub.signer)
        assert written[1]["id"] == written[0]["id"] + 1
    report = verify_hub(hub_db.app_dsn(), keys)
    assert report.ok, report.audit.problem
    assert report.audit.last_id == written[1]["id"]


# ----- ingest: the packet import's writes, as the application role -----------------------------------------------
def _stub_packets(calls: list[dict[str, object]]) -> object:
    """A stand-in for ``msc_sle_crf.sync.packets`` (its interface as documented there) that writes what an import
    writes: the packet's bookkeeping, an item changed, a conflict kept, a query opened with its message, an SDV mark,
    and its records in the trail; the same packet twice changes nothing."""
    import hashlib
    import types

    from sqlalchemy import select

    from msc_sle_crf import audit
    from msc_sle_crf.audit import Action, AuditEntry
    from msc_sle_crf.store.tables import (
        DataQuery,
        ItemConflict,
        ItemValue,
        ItemVerification,
        QueryMessage,
        SyncPacketIn,
    )

    module = types.ModuleType("msc_sle_crf.sync.packets")

    def packet_key(db_key: bytes, db_id: str) -> bytes:
        return hashlib.sha256(db_key + db_id.encode()).digest()

    def import_packet(session, clock, workstation_label, signer, actor_username, actor_role,
                      packet_bytes, *, packet_key, expected_db_id):
        calls.append({"label": workstation_label, "user": actor_username, "key": packet_key, "db_id": expected_db_id})
        seq = int(packet_bytes.decode())
        if session.get(SyncPacketIn, ("WS-02", seq)) is not None:
            return types.SimpleNamespace(duplicate=True, applied=0, conflicts=0)
        value = session.execute(select(ItemValue).order_by(ItemValue.id).limit(1)).scalar_one()
        old, value.value = value.value, "42"
        session.add(ItemConflict(instance_id=value.instance_id, group_id=value.group_id, row_no=value.row_no,
                                 item_id=value.item_id, kept="{}", other="{}", status="open", opened_utc="t"))
        query = DataQuery(instance_id=value.instance_id, group_id=value.group_id, row_no=value.row_no,
                          item_id=value.item_id, status="open", automatic=True, opened_utc="t")
        session.add(query)
        session.flush()
        session.add(QueryMessage(query_id=query.id, kind="open", username=actor_username, role=actor_role, utc="t",
                                 text="conflict"))
        session.add(ItemVerification(instance_id=value.instance_id, group_id=value.group_id, row_no=value.row_no,
                                     item_id=value.item_id, username=actor_username, utc="t", value_hash="h"))
        session.add(SyncPacketIn(origin_ws="WS-02", seq=seq, file_oid=f"x.WS-02.{seq}", last_record=1, last_hash="h",
                                 sha256="s", imported_utc="t", username=actor_username, applied=1, conflicts=1))
        audit.append_many(session, clock, workstation_label,
                          [AuditEntry(Action.SETTING_CHANGE, actor_username, actor_role, item="x", old_value=old,
                                      new_value="42", detail="stub import")], signer)
        return types.SimpleNamespace(duplicate=False, applied=1, conflicts=1)

    module.packet_key = packet_key  # type: ignore[attr-defined]
    module.import_packet = import_packet  # type: ignore[attr-defined]
    return module


def test_hub_ingest_calls_the_packet_import_on_the_hub_as_the_application_role(
        hub_db: HubDb, site_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    keys = _initialised(hub_db, site_copy, tmp_path / "hub")
    calls: list[dict[str, object]] = []
    monkeypatch.setitem(sys.modules, "msc_sle_crf.sync.packets", _stub_packets(calls))
    packet = tmp_path / "PACKET-99-WS-02-0001.crfpkt"
    packet.write_bytes(b"1")
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    outputs = []
    for _ in range(2):
        monkeypatch.setattr("sys.stdin", io.StringIO("training-manager\n"))
        code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "admin",
                     "--password-stdin", str(packet)])
        out, err = capsys.readouterr()
        assert code == 0, err
        outputs.append(out)
    assert outputs[0].startswith(f"{packet.name}: applied: 1 record(s), 1 conflict(s)")
    assert outputs[1].startswith(f"{packet.name}: already imported: nothing changed")
    assert len(calls) == 2 and calls[0]["user"] == "admin" and [len(k) for k in calls[0]["key"]] == [32, 32]  # type: ignore[attr-defined]
    with hub_db.connect("app") as conn:
        assert conn.execute("SELECT count(*) FROM sync_packet_in").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM query_message").fetchone()[0] >= 1
    # a wrong password opens nothing on the hub
    monkeypatch.setattr("sys.stdin", io.StringIO("not-the-password\n"))
    code = main(["hub", "ingest", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "admin",
                 "--password-stdin", str(packet)])
    _out, err = capsys.readouterr()
    assert code == 3 and "Sign-in failed" in err


def test_an_import_that_fails_leaves_the_hub_as_before(hub_db: HubDb, site_copy: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from msc_sle_crf.hub.ingest import ingest_packets
    from msc_sle_crf.hub.session import open_hub

    keys = _initialised(hub_db, site_copy, tmp_path / "hub")
    calls: list[dict[str, object]] = []
    stub = _stub_packets(calls)
    original = stub.import_packet  # type: ignore[attr-defined]

    def failing(*args, **kw):
        original(*args, **kw)  # everything written ...
        raise RuntimeError("killed")  # ... then the import stops before the end

    stub.import_packet = failing  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "msc_sle_crf.sync.packets", stub)
    packet = tmp_path / "p.crfpkt"
    packet.write_bytes(b"1")

    def snapshot() -> tuple[int, ...]:
        with hub_db.connect("app") as conn:
            return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                         for t in ("audit_event", "sync_packet_in", "data_query", "item_conflict"))

    with open_hub(hub_db.app_dsn(), keys, "admin", "training-manager", clock=FakeClock()) as hub:
        before = snapshot()
        with pytest.raises(RuntimeError, match="killed"):
            list(ingest_packets(hub, [packet]))
        assert snapshot() == before
    assert verify_hub(hub_db.app_dsn(), keys).ok


# ----- export from the hub --------------------------------------------------------------------------------------------
def test_export_from_the_hub_verifies_and_matches_the_site_export(hub_db: HubDb, site_copy: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    keys = _initialised(hub_db, site_copy, tmp_path / "hub")
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    out = tmp_path / "export-hub"
    monkeypatch.setattr("sys.stdin", io.StringIO("training-doctor\n"))
    code = main(["export", "--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys), "--user", "dr.martin",
                 "--password-stdin", "--out", str(out), "--no-audit-trail"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "Export written" in stdout
    site = Site.open(site_copy)  # today's clock, as the hub's export (windows of the safety review depend on it)
    doctor = Workspace.sign_in(site, "dr.martin", "training-doctor")
    try:
        fingerprint = doctor.printing.ca_fingerprint()
        site_out = tmp_path / "export-site"
        doctor.export.export(site_out, ExportOptions(audit_trail=False))
    finally:
        site.close()
    code = main(["export-verify", str(out), "--fingerprint", fingerprint])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    # the same data either way: every dataset file of the hub's export is the site's, byte for byte
    hub_files = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.csv")}
    site_files = {p.relative_to(site_out): p.read_bytes() for p in site_out.rglob("*.csv")}
    assert hub_files and hub_files.keys() == site_files.keys()
    differ = {str(k): sorted(set(hub_files[k].decode().splitlines()) ^ set(site_files[k].decode().splitlines()))[:6]
              for k in hub_files if hub_files[k] != site_files[k]}
    assert differ == {}
    # the export is in the hub's trail, by its author
    with hub_db.connect("app") as conn:
        assert conn.execute("SELECT username FROM audit_event WHERE action = 'export' ORDER BY id DESC LIMIT 1"
                            ).fetchone() == ("dr.martin",)


def test_concurrent_writers_on_the_hub_keep_one_chain(hub_db: HubDb, site_copy: Path, tmp_path: Path) -> None:
    """Two sessions appending at once (two ingests run by two people): the append lock serialises them, so every
    transaction lands whole, in one chain, with no id taken twice."""
    import threading

    from msc_sle_crf import audit
    from msc_sle_crf.audit import Action, AuditEntry
    from msc_sle_crf.hub.session import open_hub

    keys = _initialised(hub_db, site_copy, tmp_path / "hub")
    sessions = [open_hub(hub_db.app_dsn(), keys, user, pw, clock=FakeClock())
                for user, pw in (("admin", "training-manager"), ("dr.martin", "training-doctor"))]
    with hub_db.connect("app") as conn:
        before = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(hub) -> None:
        try:
            start.wait()
            for n in range(25):
                with hub.store.write() as session:
                    audit.append_many(session, hub.clock, hub.workstation,
                                      [AuditEntry(Action.EXPORT, hub.actor.username, hub.actor.role.value,
                                                  detail=f"{hub.actor.username} {n} {k}") for k in range(3)],
                                      hub.signer)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in sessions:
        s.close()
    assert errors == []
    with hub_db.connect("app") as conn:
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone()[0] == before + 2 * 25 * 3
        # each transaction's three records are consecutive (never interleaved with the other writer's)
        rows = conn.execute("SELECT detail FROM audit_event WHERE action = 'export' AND detail LIKE '%% %% %%' "
                            "ORDER BY id").fetchall()
    details = [r[0].rsplit(" ", 1)[0] for r in rows]
    assert all(details[i] == details[i + 1] == details[i + 2] for i in range(0, len(details), 3))
    assert verify_hub(hub_db.app_dsn(), keys).ok


def test_the_outcome_report_from_the_hub_is_the_sites(hub_db: HubDb, site_copy: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    keys = _initialised(hub_db, site_copy, tmp_path / "hub")
    monkeypatch.setenv("PGPASSWORD", hub_db.cluster.app_password)
    outputs = []
    for where in (["--dsn", hub_db.app_dsn_no_password(), "--keys", str(keys)], ["--db", str(site_copy)]):
        monkeypatch.setattr("sys.stdin", io.StringIO("training-doctor\n"))
        code = main(["report", "outcomes", *where, "--user", "dr.martin", "--password-stdin", "--format", "csv"])
        out, err = capsysbinary.readouterr()
        assert code == 0, err
        outputs.append(out)
    assert outputs[0] and outputs[0].count(b"\n") > 5
    hub_lines, site_lines = outputs[0].decode().splitlines(), outputs[1].decode().splitlines()
    differ = [(n, a, b) for n, (a, b) in enumerate(zip(hub_lines, site_lines, strict=True)) if a != b]
    # every figure is the same; only the provenance names each one's own trail head (the hub has its own records)
    assert [a.split(",")[:2] for _n, a, _b in differ] == [["provenance", "audit_trail"]]


def test_a_password_quoted_by_a_driver_message_is_masked() -> None:
    """Should a driver ever quote the connection string in an error, the message still shows no password."""
    from msc_sle_crf.hub.store import connection_error, redact

    dsn = "host=db port=5432 dbname=crf user=crf_app password='s3cr et' sslmode=verify-full sslrootcert=/ca.crt"
    params = parse_dsn(dsn)
    assert params["password"] == "s3cr et"
    error = connection_error(RuntimeError(f"could not connect with {dsn}\nDETAIL: postgresql://crf_app:s3cr%20et@db/"
                                          "crf"), params)
    text = error.message()
    assert "s3cr" not in text and "\n" not in text
    assert text.startswith("Hub database crf_app@db:5432/crf: could not connect with")
    assert redact("postgresql://u:pa55@h/d?sslmode=verify-full") == "postgresql://u:***@h/d?sslmode=verify-full"
    assert redact("user=u password=pa55 host=h") == "user=u password=*** host=h"


def test_an_older_hub_is_refused_until_its_owner_upgrades_it(hub_db: HubDb, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    hub = HubStore(hub_db.owner_dsn())
    schema.upgrade(hub, APP_ROLE, "0008")
    hub.close()
    keys = tmp_path / "hub.keys"
    keys.write_text("{}")
    code = main(["hub", "verify", "--dsn", hub_db.app_dsn(), "--keys", str(keys)])
    _out, err = capsys.readouterr()
    assert code == 5 and "older than this program's" in err and err.count("\n") == 1
    code = main(["hub", "upgrade", "--dsn", hub_db.owner_dsn(), "--app-role", APP_ROLE])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "0008 -> 0009" in out
    with hub_db.connect("app") as conn:  # the new tables come with the application role's grants
        conn.execute("INSERT INTO sync_packet_out VALUES (1, 'a', NULL, 1, 1, 'h', 's', 't', 'u')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE sync_packet_out SET seq = 2")
        conn.execute("UPDATE subject SET owner_ws = NULL")  # a column 0009 added to a mutable table


def test_the_sites_sql_runs_on_the_hub_connection(hub_db: HubDb) -> None:
    """``?`` placeholders, a literal '%' with and without parameters, a read snapshot opened and closed."""
    hub = HubStore(hub_db.owner_dsn())
    schema.upgrade(hub, APP_ROLE)
    hub.close()
    with HubStore(hub_db.app_dsn()) as app:
        conn = app.raw_connection()
        try:
            assert conn.execute("SELECT 'a%b', ?::int + 1", (41,)).fetchone() == ("a%b", 42)
            assert conn.execute("SELECT 'x' LIKE 'x%'").fetchone() == (True,)
            assert list(conn.stream("SELECT generate_series(1, ?)", (3,))) == [(1,), (2,), (3,)]
            conn.execute("BEGIN")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO draft (user_id, draft_key, payload, updated_utc) VALUES (1, 'k', 'p', 't')")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
