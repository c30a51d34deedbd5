"""Realistic trials for the benchmarks: 100, 500 or 2,000 subjects with their full audit trails.

The TRAINING database is built through the real service layer (``create_demo``: accounts, eight subjects at every
stage, each value checked, stored and audited; its fully followed subject 99-001 has ~880 audit records). Then the
followed subject is copied until the trial has N subjects by a faithful bulk path: the same rows (subject, form
instances, rows, values, signatures, queries, verifications, infusion events) and the same audit records (content
unchanged except the subject number, appended to the hash chain with their hashes recomputed), so the database
size, the sign-in, the verification and every list read what a real trial of that size holds. The trail verifies.

Built databases are cached in ``benchmarks/out/`` (gitignored), keyed by a hash of what shapes them (forms,
migrations, demo data, audit format, this file): a rerun with the same code reuses them. Benchmarks work on a
copy (``copy_of``), never on the cached file.

    python benchmarks/dataset.py 500      # build (or find) the 500-subject trial and print its size
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from msc_sle_crf.demo_accounts import DEMO_ACCOUNTS  # noqa: E402
from msc_sle_crf.security.keyslots import KdfParams  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
FAST = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
SOURCE_SUBJECT = "99-001"  # the demo's subject followed to M12
DOCTOR = ("dr.martin", "training-doctor")
NURSE = ("nurse.durand", "training-nurse")
ADMIN = ("admin", "training-manager")
MONITOR = ("monitor.petit", "training-monitor")
COMPANIONS = (".keys", ".head")  # the files that travel with a database


def version_key() -> str:
    """What the generated data depends on: change any of it and the cache is rebuilt."""
    digest = hashlib.sha256()
    files = sorted((ROOT / "forms").glob("*.yaml")) + sorted(
        (ROOT / "msc_sle_crf" / "store" / "migrations" / "versions").glob("*.py")) + [
        ROOT / "msc_sle_crf" / "services" / "demo.py", ROOT / "msc_sle_crf" / "services" / "demo_data.py",
        ROOT / "msc_sle_crf" / "audit.py", Path(__file__)]
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Trial:
    path: Path
    subjects: int
    audit_records: int
    size_bytes: int


def _columns(conn: Any, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def _insert(conn: Any, table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                         rows)


def clone_subjects(conn: Any, count: int, *, source: str = SOURCE_SUBJECT, first_number: int | None = None,
                   progress: bool = True, signers: dict[str, Any] | None = None) -> None:
    """Append ``count`` copies of ``source`` (rows and audit records) in one transaction of ``conn`` (a raw keyed
    connection of an open site). With ``signers`` (username -> the site's Signer, i.e. the authors signed in), the
    copied records are signed as their authors signed the originals, one signature per copied transaction, so the
    copy verifies as a trail the program wrote; without, the copied records carry no signature (a legacy trail)."""
    import base64

    from msc_sle_crf import audit

    conn.execute("BEGIN IMMEDIATE")
    s_cols = _columns(conn, "subject")
    src = dict(zip(s_cols, conn.execute("SELECT * FROM subject WHERE subject_number = ?", (source,)).fetchone(),
                   strict=True))
    prefix = source.split("-", maxsplit=1)[0]
    start = first_number or conn.execute("SELECT count(*) FROM subject").fetchone()[0] + 1
    fi_cols = _columns(conn, "form_instance")
    instances = [dict(zip(fi_cols, r, strict=True)) for r in conn.execute(
        "SELECT * FROM form_instance WHERE subject_id = ? ORDER BY id", (src["id"],)).fetchall()]
    ids = [i["id"] for i in instances]
    marks = ",".join("?" * len(ids))

    def children(table: str, key: str = "instance_id") -> tuple[list[str], list[dict[str, Any]]]:
        cols = _columns(conn, table)
        return cols, [dict(zip(cols, r, strict=True)) for r in conn.execute(
            f"SELECT * FROM {table} WHERE {key} IN ({marks}) ORDER BY id", ids).fetchall()]

    per_instance = {t: children(t) for t in ("form_row", "item_value", "signature", "item_verification")}
    q_cols, queries = children("data_query")
    qm_cols = _columns(conn, "query_message")
    q_ids = [q["id"] for q in queries]
    messages = [dict(zip(qm_cols, r, strict=True)) for r in conn.execute(
        f"SELECT * FROM query_message WHERE query_id IN ({','.join('?' * len(q_ids))}) ORDER BY id",
        q_ids).fetchall()] if q_ids else []
    ie_cols = _columns(conn, "infusion_event")
    infusion = [dict(zip(ie_cols, r, strict=True)) for r in conn.execute(
        "SELECT * FROM infusion_event WHERE subject_id = ? ORDER BY id", (src["id"],)).fetchall()]
    a_cols = [*audit.CANONICAL_FIELDS, "hash"]
    read_cols = [*a_cols, "signer", "sig"]
    trail = [dict(zip(read_cols, r, strict=True)) for r in conn.execute(
        f"SELECT {', '.join(read_cols)} FROM audit_event WHERE subject = ? ORDER BY id", (source,)).fetchall()]
    # a copied transaction ends where the original's did (its signed record), or where the original went on with
    # records of other subjects (not copied), or where the author changes
    ends = [r["sig"] is not None or k + 1 == len(trail) or trail[k + 1]["id"] != r["id"] + 1
            or trail[k + 1]["signer"] != r["signer"] for k, r in enumerate(trail)]
    if signers is not None:
        a_cols = read_cols
    last_id, prev = conn.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
    next_ids = {t: (conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] + 1)
                for t in ("subject", "form_instance", "form_row", "item_value", "signature", "item_verification",
                          "data_query", "query_message", "infusion_event")}
    began = time.perf_counter()
    for n in range(count):
        number = f"{prefix}-{start + n:03d}"
        sid = next_ids["subject"]
        next_ids["subject"] += 1
        _insert(conn, "subject", s_cols, [tuple({**src, "id": sid, "subject_number": number}[c] for c in s_cols)])
        new_instance: dict[int, int] = {}
        rows = []
        for inst in instances:
            new_instance[inst["id"]] = next_ids["form_instance"]
            rows.append(tuple({**inst, "id": next_ids["form_instance"], "subject_id": sid}[c] for c in fi_cols))
            next_ids["form_instance"] += 1
        _insert(conn, "form_instance", fi_cols, rows)
        for table, (cols, items) in per_instance.items():
            rows = []
            for it in items:
                rows.append(tuple({**it, "id": next_ids[table], "instance_id": new_instance[it["instance_id"]]}[c]
                                  for c in cols))
                next_ids[table] += 1
            _insert(conn, table, cols, rows)
        new_query: dict[int, int] = {}
        rows = []
        for q in queries:
            new_query[q["id"]] = next_ids["data_query"]
            rows.append(tuple({**q, "id": next_ids["data_query"], "instance_id": new_instance[q["instance_id"]]}[c]
                              for c in q_cols))
            next_ids["data_query"] += 1
        _insert(conn, "data_query", q_cols, rows)
        rows = []
        for m in messages:
            rows.append(tuple({**m, "id": next_ids["query_message"], "query_id": new_query[m["query_id"]]}[c]
                              for c in qm_cols))
            next_ids["query_message"] += 1
        _insert(conn, "query_message", qm_cols, rows)
        rows = []
        for e in infusion:
            rows.append(tuple({**e, "id": next_ids["infusion_event"], "subject_id": sid}[c] for c in ie_cols))
            next_ids["infusion_event"] += 1
        _insert(conn, "infusion_event", ie_cols, rows)
        rows = []
        for rec, end in zip(trail, ends, strict=True):
            last_id += 1
            record = {**rec, "id": last_id, "subject": number, "prev_hash": prev}
            prev = audit.record_hash(record)
            if signers is None:
                rows.append((*(record[f] for f in audit.CANONICAL_FIELDS), prev))
                continue
            signer = signers[rec["signer"]] if rec["signer"] is not None else None
            sig = (base64.b64encode(signer.sign(audit.tx_message(last_id, prev))).decode("ascii")
                   if signer is not None and end else None)
            rows.append((*(record[f] for f in audit.CANONICAL_FIELDS), prev, rec["signer"], sig))
        _insert(conn, "audit_event", a_cols, rows)
        if progress and (n + 1) % 50 == 0:
            elapsed = time.perf_counter() - began
            print(f"\r  copying subjects: {n + 1}/{count} ({elapsed:.0f} s)", end="", file=sys.stderr, flush=True)
    conn.execute("COMMIT")
    if progress:
        print(file=sys.stderr)


def build(subjects: int, path: Path) -> int:
    """A new trial of ``subjects`` subjects at ``path`` (its key file and head beside it); its audit records."""
    from msc_sle_crf.services.demo import create_demo

    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    site = create_demo(path, kdf=FAST)
    try:
        conn = site.store.raw_connection()  # type: ignore[union-attr]
        try:
            have = conn.execute("SELECT count(*) FROM subject").fetchone()[0]
            if subjects > have:
                for user, _name, _role, password in DEMO_ACCOUNTS:  # their keys sign the copies, as they signed
                    site.authenticate(user, password)                 # the originals
                signers = {user: site.signer(user) for user, *_ in DEMO_ACCOUNTS}
                clone_subjects(conn, subjects - have, signers=signers)
            records = int(conn.execute("SELECT count(*) FROM audit_event").fetchone()[0])
        finally:
            conn.close()
    finally:
        site.close()  # anchors the trail's new end in the key file and the head file
    print(f"  built {subjects} subjects in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return records


def trial(subjects: int) -> Trial:
    """The cached trial of ``subjects`` subjects (built on first use)."""
    folder = OUT / f"trial-{subjects}-{version_key()}"
    path = folder / "trial.crfdb"
    if not path.exists() or not (folder / "complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"building a {subjects}-subject trial in {folder} (cached for later runs)...", file=sys.stderr)
        records = build(subjects, path)
        (folder / "records").write_text(str(records))
        (folder / "complete").write_text("ok\n")
    for stale in OUT.glob(f"trial-{subjects}-*"):
        if stale != folder:
            shutil.rmtree(stale, ignore_errors=True)
    size = path.stat().st_size
    records = int((folder / "records").read_text())
    return Trial(path, subjects, records, size)


def copy_of(trial_: Trial, dest_dir: Path) -> Path:
    """A working copy of a cached trial (database, key file, head) in ``dest_dir``."""
    dest = dest_dir / trial_.path.name
    shutil.copyfile(trial_.path, dest)
    for suffix in COMPANIONS:
        src = Path(f"{trial_.path}{suffix}")
        if src.exists():
            shutil.copyfile(src, Path(f"{dest}{suffix}"))
    return dest


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["100"]:
        t = trial(int(arg))
        print(f"{t.subjects} subjects: {t.path} ({t.size_bytes / 1e6:.0f} MB, {t.audit_records:,} audit records)")
