"""The scale figure of issue 18: every workstation's packet ingested into the PostgreSQL hub (time, peak memory).

    python benchmarks/bench_hub.py            # 10 workstations x 190 subjects (~1.67 million audit records)
    python benchmarks/bench_hub.py --smoke    # 3 workstations x 4 subjects, for CI (needs Debian's postgresql)

Path timed: the real command, ``msc-sle-crf hub ingest --dsn ... --keys hub.keys --user admin PACKET`` in its own
process (``python -m msc_sle_crf``: start-up, sign-in on the hub, the packet decrypted and checked, every record
hash and transaction signature checked, the copies chained and signed, the rows applied, the packet's subjects
replayed against the trail, commit), one packet per workstation, in order WS-01, WS-02... so packet *k* arrives
on a hub that already holds *k-1* workstations' data. Peak memory: the ingest process's own maximum resident set
(``VmHWM``, written by ``benchmarks/own_peak.py`` as it exits: a child's ``ru_maxrss`` from ``wait4`` would start
from this benchmark's own peak); the server's own memory is not in it.

Floor, interleaved (before each packet's ingest, on the same hub, same tables, same role): what any import of a
signed packet must do at least, nothing else: the file decrypted and opened, every record's hash recomputed and
every transaction's Ed25519 signature checked against its author's key, each new record chained (its local hash),
then the same audit records and the same rows (subjects, instances, rows, values, signatures, SDV marks, queries,
messages, infusion events) written with psycopg ``COPY`` into the same tables in one transaction, rolled back so
the ingest that follows finds the hub as it was.

The data: a realistic trial per workstation by the datasets' bulk path (``dataset.clone_subjects``: the demo's
subject followed to M12, ~880 audit records signed by their authors, copied with its rows). The workstations are
made with the real ``workstation add`` / ``open`` from the first one (the demo), each one's subjects numbered in
its own block of subject numbers (WS-01 after the demo's, WS-n from its block's first number: the import refuses a
subject registered outside its workstation's block, so a block's 199 numbers bound a workstation's subjects: 190 by
default; the runs of 3 December before that check used 200 numbered past the blocks), their rows in their
workstation's id block, then each one's packet written by the real ``packet export``.
The hub is made (``hub init``) from a copy of the first workstation taken after the forks and before its data, as
IT would make it from a backup: that copy's own hub-init record stays on the copy, the first workstation's packet
brings everything after the fork point. Subjects stay registered to WS-01 (the bulk copy keeps the source's
registration). Built once and cached under ``benchmarks/out/hub-<W>x<S>-<hash of the code that shapes it>``.

Figures: the median ingest of one workstation's packet against its floor; the ingest into a hub holding one
workstation's data against the same into a hub holding W-1 (the import checks only the packet and what its subjects
hold: flat); the peak memory.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import ROOT, Figure, env_offscreen, report

env_offscreen()

from dataset import ADMIN, COMPANIONS, FAST, OUT, clone_subjects  # noqa: E402

from msc_sle_crf import audit  # noqa: E402
from msc_sle_crf.clock import FakeClock  # noqa: E402
from msc_sle_crf.sync.identity import ID_BLOCK, default_subjects  # noqa: E402

BLOCK_TABLES = ("form_instance", "signature", "data_query", "query_message", "item_verification", "infusion_event")


def code_key() -> str:
    """What the generated packets depend on: the datasets' code, the packet writer and its rows, the workstation
    fork, and this file's generation (not the import path: changing it keeps the cache)."""
    import inspect

    from msc_sle_crf.sync import packets

    digest = hashlib.sha256()
    files = [*sorted((ROOT / "forms").glob("*.yaml")),
             *sorted((ROOT / "msc_sle_crf" / "store" / "migrations" / "versions").glob("*.py")),
             *(ROOT / "msc_sle_crf" / "services" / n for n in ("demo.py", "demo_data.py")),
             *(ROOT / "msc_sle_crf" / "sync" / n for n in ("rows.py", "identity.py", "ids.py", "workstations.py")),
             ROOT / "msc_sle_crf" / "export" / "odm.py", ROOT / "benchmarks" / "dataset.py"]
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    # the trail's format (not how it is written)
    for fn in (packets.export_packet, audit.canonical_bytes, audit.record_hash, audit.tx_message, build, _InBlock):
        digest.update(inspect.getsource(fn).encode())
    digest.update(repr(audit.CANONICAL_FIELDS).encode())
    return digest.hexdigest()[:12]


class _InBlock:
    """A raw connection whose "next id" look-ups (``dataset.clone_subjects``) answer within this workstation's id
    block for the six tables whose ids are global (docs/workstations.md): rows made on WS-n get WS-n's ids."""

    def __init__(self, conn: Any, number: int) -> None:
        self.conn, self.low, self.high = conn, (number - 1) * ID_BLOCK, number * ID_BLOCK

    def execute(self, sql: str, params: Any = ()) -> Any:
        for table in BLOCK_TABLES:
            if sql == f"SELECT coalesce(max(id), 0) FROM {table}":
                return self.conn.execute(f"SELECT coalesce(max(id), ?) FROM {table} WHERE id > ? AND id <= ?",
                                         (self.low, self.low, self.high))
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> Any:
        return self.conn.executemany(sql, rows)


def _copy_db(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    for suffix in COMPANIONS:
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(Path(f"{src}{suffix}"), Path(f"{dest}{suffix}"))
    return dest


def _first_number(number: int, subjects: int) -> int:
    """The first subject number of workstation ``number``'s subjects: inside its block (WS-01: after the demo's
    subjects, which end before 009), as the app would number them; refused when they do not fit."""
    low, high = default_subjects(number)
    first = max(low, 9)
    if first + subjects - 1 > high:
        raise SystemExit(f"{subjects} subjects do not fit in WS-{number:02d}'s subject numbers "
                         f"({first:03d}-{high:03d}): at most {high - first + 1}")
    return first


def build(folder: Path, workstations: int, subjects: int) -> None:
    """The first workstation (the demo), the others forked from it, the hub's source, then each one's data and
    packet (``folder/packets/NN.crfpkt``, in ingest order)."""
    from msc_sle_crf.demo_accounts import DEMO_ACCOUNTS
    from msc_sle_crf.services import Site, Workspace
    from msc_sle_crf.services.demo import create_demo
    from msc_sle_crf.sync.service import Packets
    from msc_sle_crf.sync.workstations import Workstations, open_fork

    clock = FakeClock()
    began = time.perf_counter()
    dbs = [folder / "ws01" / "trial.crfdb"]
    create_demo(dbs[0], kdf=FAST, clock=clock).close()
    for number in range(2, workstations + 1):
        db = folder / f"ws{number:02d}" / "trial.crfdb"
        db.parent.mkdir(parents=True, exist_ok=True)
        with Site.open(dbs[0], clock=clock) as site:
            services = Workspace.sign_in(site, *ADMIN)
            added = Workstations(services.ctx).add(services, folder / f"ws{number:02d}.crfws", number=number)
        open_fork(added.path, db, *ADMIN, clock=clock)
        added.path.unlink()
        dbs.append(db)
    _copy_db(dbs[0], folder / "hub-source" / "trial.crfdb")
    out = folder / "packets"
    out.mkdir()
    for number, db in enumerate(dbs, start=1):
        site = Site.open(db, clock=clock)
        try:
            for user, _name, _role, password in DEMO_ACCOUNTS:
                site.authenticate(user, password)
            signers = {user: site.signer(user) for user, *_ in DEMO_ACCOUNTS}
            conn = site.store.raw_connection()  # type: ignore[union-attr]
            try:
                clone_subjects(_InBlock(conn, number), subjects, first_number=_first_number(number, subjects),
                               progress=False, signers=signers)
            finally:
                conn.close()
            services = Workspace.sign_in(site, *ADMIN)
            clock.advance(60)
            result = Packets(services.ctx, services.study).export(folder / "outbox")
            assert result is not None
            shutil.move(result.path, out / f"{number:02d}.crfpkt")
        finally:
            site.close()
        print(f"  WS-{number:02d}: {subjects} subjects, packet of {result.records:,} records "
              f"({(out / f'{number:02d}.crfpkt').stat().st_size / 1e6:.1f} MB), {time.perf_counter() - began:.0f} s",
              file=sys.stderr, flush=True)
    shutil.rmtree(folder / "outbox", ignore_errors=True)
    for db in dbs:  # the workstations themselves are not needed again: the hub's source and the packets are
        shutil.rmtree(db.parent, ignore_errors=True)
    (folder / "complete").write_text("ok\n")


def generated(workstations: int, subjects: int) -> Path:
    folder = OUT / f"hub-{workstations}x{subjects}-{code_key()}"
    if not (folder / "complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        print(f"building {workstations} workstations x {subjects} subjects in {folder} (cached for later runs)...",
              file=sys.stderr, flush=True)
        build(folder, workstations, subjects)
    for stale in OUT.glob(f"hub-{workstations}x{subjects}-*"):
        if stale != folder:
            shutil.rmtree(stale, ignore_errors=True)
    return folder


# ----- the floor --------------------------------------------------------------------------------------------------
_ROW_TABLES = (("subjects", "subject"), ("definitions", "form_definition"), ("instances", "form_instance"),
               ("rows", "form_row"), ("values", "item_value"), ("signatures", "signature"),
               ("verifications", "item_verification"), ("queries", "data_query"), ("messages", "query_message"),
               ("infusion", "infusion_event"), ("conflicts", "item_conflict"))


class Floor:
    """What any import of a signed packet must do, written with COPY into the hub's tables, then rolled back."""

    def __init__(self, dsn: str, key: bytes, db_id: str) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn)
        self.key, self.db_id = key, db_id
        raw = _Raw(self.conn)
        self.directory = audit.directory_of(raw)
        self.conn.rollback()
        self.users = dict(self.conn.execute("SELECT username, id FROM app_user").fetchall())
        self.conn.rollback()

    def run(self, data: bytes) -> int:
        from msc_sle_crf.security.personal import verify as verify_signature
        from msc_sle_crf.sync import packets as P

        packet = P.open_packet(data, packet_key=self.key, expected_db_id=self.db_id, name="floor", archival=False)
        conn = self.conn
        try:
            tail_id, prev = conn.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
            held = {int(i): h for i, h in conn.execute(
                "SELECT id, hash FROM audit_event WHERE id = ANY(%s) AND origin IS NULL",
                ([int(r["id"]) for r in packet.records if int(r["id"]) <= tail_id],)).fetchall()}
            records = []
            for r in packet.records:  # every record's hash, every transaction's signature (its author's key)
                if audit.record_hash(r) != r["hash"]:
                    raise AssertionError(r["id"])
                if r["sig"] is not None:
                    account = self.directory.get(r["signer"])
                    keys = account.keys_at_time(r["ts_utc"]) if account is not None else []
                    raw_sig = base64.b64decode(r["sig"])
                    if not any(verify_signature(k.sign, raw_sig, audit.tx_message(r["id"], r["hash"])) for k in keys):
                        raise AssertionError(f"signature of #{r['id']}")
                if held.get(int(r["id"])) == r["hash"]:
                    continue  # the trail both share from before the fork
                tail_id += 1
                local = {**r, "id": tail_id, "prev_hash": prev}
                prev = audit.record_hash(local)
                origin = r["origin"] or json.dumps({"ws": packet.manifest["ws"], "id": r["id"], "prev": r["prev_hash"],
                                                    "hash": r["hash"], "signer": r["signer"], "sig": r["sig"]},
                                                   sort_keys=True, separators=(",", ":"))
                records.append((*(local[f] for f in audit.CANONICAL_FIELDS), prev, r["signer"], r["sig"], origin))
            with conn.cursor().copy("COPY audit_event (" + ", ".join((*audit.STORED_FIELDS, "origin"))
                                    + ") FROM STDIN") as copy:
                for rec in records:
                    copy.write_row(rec)
            self._rows(packet.rows)
            return len(records)
        finally:
            conn.rollback()

    def _rows(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """The packet's rows of the subjects the hub does not hold yet, in every table, ids as the import gives."""
        conn = self.conn
        have = {n for (n,) in conn.execute("SELECT subject_number FROM subject").fetchall()}
        defs = {h for (h,) in conn.execute("SELECT content_hash FROM form_definition").fetchall()}
        next_id = {t: int(conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]) + 1
                   for t in ("subject", "form_row", "item_value")}
        subject_id: dict[str, int] = {}
        fresh_instances: set[int] = set()
        fresh_queries: set[int] = set()
        uid = self.users.get
        for table_key, table in _ROW_TABLES:
            out: list[tuple[Any, ...]] = []
            cols: list[str] = []
            for given in rows.get(table_key, []):
                row = dict(given)
                if table == "subject":
                    if row["subject_number"] in have:
                        continue
                    subject_id[row["subject_number"]] = row["id"] = next_id["subject"]
                    next_id["subject"] += 1
                    row["created_by"] = uid(row["created_by"], 1)
                elif table == "form_definition":
                    if row["content_hash"] in defs:
                        continue
                elif table == "form_instance":
                    if row["subject"] not in subject_id:
                        continue
                    row["subject_id"] = subject_id[row.pop("subject")]
                    row["created_by"] = uid(row["created_by"], 1)
                    row["completed_by"] = uid(row["completed_by"]) if row.get("completed_by") else None
                    fresh_instances.add(row["id"])
                elif table == "infusion_event":
                    if row["subject"] not in subject_id:
                        continue
                    row["subject_id"] = subject_id[row.pop("subject")]
                elif table == "query_message":
                    if row["query_id"] not in fresh_queries:
                        continue
                elif row.get("instance_id") not in fresh_instances:
                    continue
                if table == "data_query":
                    fresh_queries.add(row["id"])
                if table in ("form_row", "item_value"):
                    row["id"] = next_id[table]
                    next_id[table] += 1
                if table == "item_value":
                    row["updated_by"] = uid(row["updated_by"], 1)
                cols = cols or list(row)
                out.append(tuple(row[c] for c in cols))
            if out:
                with conn.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for values in out:
                        copy.write_row(values)

    def close(self) -> None:
        self.conn.close()


class _Raw:
    """A psycopg connection taking the site's ``?`` SQL (what ``audit.directory_of`` reads through)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.dialect = "postgresql"

    def execute(self, sql: str, params: Any = ()) -> Any:
        from msc_sle_crf.hub.store import qmark_to_format

        return self.conn.execute(qmark_to_format(sql) if params else sql, params or None)


# ----- one series ---------------------------------------------------------------------------------------------------
def ingest(dsn: str, keys: Path, packet: Path, env: dict[str, str], tmp: Path) -> tuple[float, float, str]:
    """The real command in its own process: (wall ms, its own peak resident MB, its output). The peak is the
    process's own ``VmHWM`` (``benchmarks/own_peak.py``, which runs ``-m msc_sle_crf``): a child's ``ru_maxrss``
    (``wait4``, ``RUSAGE_CHILDREN``) starts from this benchmark's own peak (its floor holds a packet too)."""
    peak_file = tmp / "ingest-peak.txt"
    peak_file.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "own_peak.py"), "-m", "msc_sle_crf", "hub",
                             "ingest", "--dsn", dsn, "--keys", str(keys), "--user", ADMIN[0], "--password-stdin",
                             str(packet)], env={**env, "BENCH_PEAK_FILE": str(peak_file)}, cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output_bytes, error_bytes = proc.communicate((ADMIN[1] + "\n").encode())
    elapsed = (time.perf_counter() - start) * 1000
    output = output_bytes.decode() + error_bytes.decode()
    if proc.returncode != 0:
        raise SystemExit(f"hub ingest failed ({proc.returncode}): {output.strip()[-2000:]}")
    return elapsed, float(peak_file.read_text()), output.strip()


def series(folder: Path, workstations: int, cluster: Any, tmp: Path, log: list[dict[str, Any]]) -> None:
    from msc_sle_crf.hub.init import init_hub
    from msc_sle_crf.security.keyslots import KIND_USER, KeySlotFile, normalize_secret
    from msc_sle_crf.sync import packets as P
    from tests.hub_pg import APP_ROLE

    hub_db = cluster.new_database()
    try:
        source = _copy_db(folder / "hub-source" / "trial.crfdb", tmp / f"{hub_db.name}-source" / "trial.crfdb")
        hub_dir = tmp / f"{hub_db.name}-hub"
        init_hub(hub_db.owner_dsn(), source, *ADMIN, hub_dir, APP_ROLE, clock=FakeClock())
        keys = hub_dir / "hub.keys"
        keyfile = KeySlotFile.load(keys)
        db_key = keyfile.unwrap(KIND_USER, ADMIN[0], normalize_secret(ADMIN[1]))
        assert db_key is not None
        from msc_sle_crf.hub.store import HubStore
        from msc_sle_crf.sync import secret

        with HubStore(hub_db.app_dsn()) as hub, hub.read() as session:  # the site's packet secret (ws-keys)
            site_key = secret.read(session, db_key, keyfile.db_id)
        floor = Floor(hub_db.app_dsn(), [k for k in (site_key, P.packet_key(db_key, keyfile.db_id)) if k],
                      keyfile.db_id)
        env = {**os.environ, "PGPASSWORD": cluster.app_password, "PYTHONPATH": str(ROOT), "MSC_SLE_CRF_LANG": "en"}
        try:
            for k in range(1, workstations + 1):
                packet = folder / "packets" / f"{k:02d}.crfpkt"
                data = packet.read_bytes()
                hub_records = int(floor.conn.execute("SELECT count(*) FROM audit_event").fetchone()[0])
                floor.conn.rollback()
                began = time.perf_counter()
                written = floor.run(data)
                floor_ms = (time.perf_counter() - began) * 1000
                del data
                ms, rss, output = ingest(hub_db.app_dsn_no_password(), keys, packet, env, tmp)
                assert "applied" in output, output
                log.append({"ws": f"WS-{k:02d}", "hub_workstations_before": k - 1, "hub_records_before": hub_records,
                            "records": written, "ms": round(ms, 1), "floor_ms": round(floor_ms, 1),
                            "peak_mb": round(rss, 1), "packet_mb": round(packet.stat().st_size / 1e6, 2),
                            "load1": round(os.getloadavg()[0], 2)})
                print(f"  WS-{k:02d} into a hub of {hub_records:,} records ({k - 1} workstation(s) of data): "
                      f"{ms / 1000:.1f} s (floor {floor_ms / 1000:.1f} s), {written:,} records, peak {rss:.0f} MB, "
                      f"load {os.getloadavg()[0]:.1f}",
                      file=sys.stderr, flush=True)
        finally:
            floor.close()
        from msc_sle_crf.hub.verify import verify_hub

        checked = verify_hub(hub_db.app_dsn(), keys)  # the hub still verifies (untimed)
        assert checked.ok, (checked.audit.problem, checked.unexplained[:3])
    finally:
        cluster.drop_database(hub_db.name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--workstations", type=int)
    parser.add_argument("--subjects", type=int)
    parser.add_argument("--runs", type=int, help="series of ingests (each on a new hub)")
    args = parser.parse_args()
    workstations = args.workstations or (3 if args.smoke else 10)
    subjects = args.subjects or (4 if args.smoke else 190)
    runs = args.runs or (2 if args.smoke else 1)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.hub_pg import start_cluster, stop_cluster

    folder = generated(workstations, subjects)
    # As installed (a wheel, the bundle): the package's bytecode is there (a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile it at every start of the command).
    compileall.compile_dir(str(ROOT / "msc_sle_crf"), quiet=1)
    cluster, reason = start_cluster()
    if cluster is None:
        raise SystemExit(f"bench_hub needs a PostgreSQL server (Debian's postgresql package): {reason}")
    log: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(runs):
                series(folder, workstations, cluster, Path(tmp), log)
    finally:
        stop_cluster(cluster)
    per = Figure(f"hub ingest of one workstation's packet ({subjects} subjects, ~{log[-1]['records']:,} records)",
                 target=None, path="msc-sle-crf hub ingest --dsn --keys --user PACKET (its own process)",
                 floor_path="packet decrypted, every hash and signature checked, records chained, the same records "
                            "and rows COPY'd into the same tables in one transaction (rolled back)",
                 values=[e["ms"] for e in log], floor=[e["floor_ms"] for e in log])
    small = [e for e in log if e["hub_workstations_before"] == 1]
    large = [e for e in log if e["hub_workstations_before"] == workstations - 1]
    flat = Figure(f"ingest into a hub holding {workstations - 1} workstations' data, against 1",
                  target=1.25, path="the same command, packet of WS-" + f"{workstations:02d}",
                  floor_path="the same command, packet of WS-02 (the hub holding WS-01's data)",
                  values=[e["ms"] for e in large], floor=[e["ms"] for e in small],
                  note="the import reads the packet and what its subjects hold; what still reads the whole trail: "
                       "the key directory (a scan of the binding records)")
    peak = max(e["peak_mb"] for e in log)
    per.note = (f"peak memory of the ingest process {peak:.0f} MB; the hub ends with "
                f"{log[-1]['hub_records_before'] + log[-1]['records']:,} audit records")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report("bench_hub", [per, flat], packets=log, workstations=workstations, subjects=subjects, ingest_peak_mb=peak,
           bench_peak_mb=round(own, 1))


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", line_buffering=True)
    main()
