"""A throwaway PostgreSQL server for the hub's tests (issue 18), registered as a pytest plugin in conftest.py.

One cluster per test session, in a temporary folder, on a free loopback port, with TLS on: a self-signed CA and a
server certificate for ``localhost``/127.0.0.1 made here with ``cryptography``; ``pg_hba.conf`` has ``hostssl`` lines
only (no ``host``, no ``local``): a client that does not speak TLS is refused by the server itself. Three roles:

- ``pgsuper``: the cluster's superuser (creates the others, then only the tests' set-up and clean-up use it);
- the owner of each hub database (runs the migrations: owns the tables and their triggers);
- the application role (``LOGIN``, no ``CREATEDB``/``CREATEROLE``, owns nothing): what ``hub ingest`` and the rest use;
  the migrations grant it SELECT and INSERT on the append-only tables and SELECT/INSERT/UPDATE on the others.

Each test gets its own database (``hub_db``). The server binaries are Debian's (``postgresql`` package); without them
the hub tests are skipped with the reason, except where ``MSC_SLE_CRF_REQUIRE_PG=1`` (``.ci/run``), where they fail;
a server that is installed but does not start always fails them.
As root the cluster runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import datetime as dt
import glob
import ipaddress
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUPERUSER = "pgsuper"
APP_ROLE = "crf_app"


def _bin_dir() -> Path | None:
    explicit = os.environ.get("MSC_SLE_CRF_PG_BIN")
    candidates = [explicit] if explicit else sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                                    key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit()
                                                    else 0, reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_certs(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate signed by it (ECDSA P-256), valid for localhost and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msc-sle-crf test hub CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = folder / "root.crt", folder / "server.crt", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


@dataclass
class PgCluster:
    """A running throwaway cluster."""

    base: Path
    bin_dir: Path
    port: int
    ca_file: Path
    super_password: str
    app_password: str
    log_file: Path
    run_as: str | None
    databases: list[str] = field(default_factory=list)

    def dsn(self, user: str, password: str | None, dbname: str = "postgres", *, sslmode: str = "verify-full") -> str:
        parts = [f"host=localhost port={self.port} dbname={dbname} user={user}"]
        if password is not None:
            parts.append(f"password={password}")
        parts.append(f"sslmode={sslmode}")
        if sslmode in ("verify-ca", "verify-full"):
            parts.append(f"sslrootcert={self.ca_file}")
        return " ".join(parts)

    def url(self, user: str, password: str, dbname: str) -> str:
        """The same as a postgresql:// URL (what ``--dsn`` is usually given as)."""
        from urllib.parse import quote

        return (f"postgresql://{quote(user)}:{quote(password, safe='')}@localhost:{self.port}/{dbname}"
                f"?sslmode=verify-full&sslrootcert={quote(str(self.ca_file))}")

    def superuser(self, dbname: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(self.dsn(SUPERUSER, self.super_password, dbname), autocommit=True)

    def new_database(self) -> HubDb:
        """A fresh database with its own owner role; the application role may connect to it and nothing more (the
        migrations grant it the rest)."""
        name = f"hub_{secrets.token_hex(4)}"
        owner, owner_pw = f"{name}_owner", secrets.token_urlsafe(18)
        with self.superuser() as conn:
            conn.execute(f"CREATE ROLE {owner} LOGIN PASSWORD '{owner_pw}'")  # test-generated names only
            conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
            conn.execute(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
            conn.execute(f"GRANT CONNECT ON DATABASE {name} TO {APP_ROLE}")
        self.databases.append(name)
        return HubDb(self, name, owner, owner_pw)

    def drop_database(self, name: str) -> None:
        with self.superuser() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {name}_owner")
        if name in self.databases:
            self.databases.remove(name)


@dataclass
class HubDb:
    cluster: PgCluster
    name: str
    owner: str
    owner_password: str

    def owner_dsn(self, **kw: str) -> str:
        return self.cluster.dsn(self.owner, self.owner_password, self.name, **kw)

    def app_dsn(self, **kw: str) -> str:
        return self.cluster.dsn(APP_ROLE, self.cluster.app_password, self.name, **kw)

    def owner_dsn_no_password(self) -> str:
        return self.cluster.dsn(self.owner, None, self.name)

    def app_dsn_no_password(self) -> str:
        return self.cluster.dsn(APP_ROLE, None, self.name)

    def connect(self, user: str = "owner"):  # type: ignore[no-untyped-def]
        import psycopg

        dsn = self.owner_dsn() if user == "owner" else self.app_dsn() if user == "app" else self.cluster.dsn(
            SUPERUSER, self.cluster.super_password, self.name)
        return psycopg.connect(dsn, autocommit=True)


def _run(cmd: list[str], run_as: str | None, **kw: object) -> subprocess.CompletedProcess[str]:
    if run_as is not None:
        import shlex

        cmd = ["su", run_as, "-s", "/bin/sh", "-c", " ".join(shlex.quote(c) for c in cmd)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, **kw)  # type: ignore[call-overload,no-any-return]


def _unavailable(reason: str) -> None:
    if os.environ.get("MSC_SLE_CRF_REQUIRE_PG") == "1":
        pytest.fail(f"hub tests need PostgreSQL here (MSC_SLE_CRF_REQUIRE_PG=1): {reason}", pytrace=False)
    pytest.skip(f"hub tests skipped: {reason}")


def start_cluster() -> tuple[PgCluster | None, str]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        return None, ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb: Debian's "
                      "'postgresql' package; .ci/run installs it)")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no 'postgres' user to run the server as"
        run_as = "postgres"
    base = Path(tempfile.mkdtemp(prefix="msc-hub-pg-"))
    base.chmod(0o755)
    certs = base / "certs"
    certs.mkdir()
    ca_file, cert_file, key_file = _make_certs(certs)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    super_pw, app_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    pwfile = base / "pw"
    pwfile.write_text(super_pw + "\n")
    pwfile.chmod(0o600)
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        for path in (base, certs, sock, pwfile, cert_file, key_file, ca_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    init = _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile),
                 "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"], run_as)
    pwfile.unlink()
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        return None, f"initdb failed: {(init.stderr or init.stdout).strip()[-300:]}"
    port = _free_port()
    conf = data / "postgresql.conf"
    with open(conf, "a", encoding="utf-8") as fh:
        fh.write(f"""
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sock}'
ssl = on
ssl_cert_file = '{cert_file}'
ssl_key_file = '{key_file}'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
shared_buffers = 32MB
log_min_messages = warning
""")
    (data / "pg_hba.conf").write_text("# TLS only: no 'host' or 'local' lines\n"
                                      "hostssl all all 127.0.0.1/32 scram-sha-256\n")
    log_file = base / "server.log"
    start = _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log_file), "-w", "-t", "60", "start"], run_as)
    cluster = PgCluster(base, bin_dir, port, ca_file, super_pw, app_pw, log_file, run_as)
    if start.returncode != 0:
        log = log_file.read_text(errors="replace")[-500:] if log_file.exists() else ""
        stop_cluster(cluster)
        return None, f"pg_ctl start failed: {(start.stderr or start.stdout).strip()[-300:]} {log}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with cluster.superuser() as conn:
                conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{app_pw}' NOSUPERUSER NOCREATEDB "
                             "NOCREATEROLE NOINHERIT")
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                stop_cluster(cluster)
                return None, f"the test server does not answer: {str(exc).splitlines()[0]}"
            time.sleep(0.2)
    return cluster, ""


def stop_cluster(cluster: PgCluster) -> None:
    _run([str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.base / "data"), "-m", "immediate", "-w", "stop"],
         cluster.run_as)
    shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster, reason = start_cluster()
    if cluster is None and _bin_dir() is None:
        _unavailable(reason)  # skipped (with the reason) only where the server is not installed
    if cluster is None:
        pytest.fail(f"the test PostgreSQL server did not start: {reason}", pytrace=False)
    assert cluster is not None
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture
def hub_db(pg_cluster: PgCluster) -> Iterator[HubDb]:
    db = pg_cluster.new_database()
    try:
        yield db
    finally:
        pg_cluster.drop_database(db.name)
