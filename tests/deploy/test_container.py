"""The container image (docs/deploy/Dockerfile): what its build context holds, how it is built,
and its command line and health check run as plain processes on this machine."""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docs" / "deploy" / "Dockerfile"
HEALTHCHECK = ROOT / "docs" / "deploy" / "healthcheck.py"

# What running, testing and preparing models leave in a checkout (besides the tracked files).
LOCAL_OUTPUTS = [
    ".venv/bin/uv",
    ".venv/bin/python",
    ".venv-convert/bin/python",
    ".cache/human-models/package/models/movenet-multipose.bin",
    ".cache/eslint/node_modules/eslint/package.json",
    ".git/HEAD",
    ".git/objects/pack/pack-1.pack",
    "data/catalog.db",
    "data/blobs/ab/abcdef",
    ".mypy_cache/3.11/sightline/app.data.json",
    ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/CACHEDIR.TAG",
    ".hypothesis/examples/x",
    "src/sightline/__pycache__/app.cpython-311.pyc",
    "src/sightline.egg-info/PKG-INFO",
    "build/lib/sightline/app.py",
    "tests/__pycache__/conftest.cpython-311.pyc",
]


def ignore_patterns(text: str) -> list[tuple[re.Pattern[str], bool]]:
    """.dockerignore's patterns as Docker reads them: (regex, is an exception `!`)."""
    patterns = []
    for line in text.splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        exception = pattern.startswith("!")
        pattern = os.path.normpath(pattern.removeprefix("!").strip()).lstrip("/")
        patterns.append((re.compile(_regex(pattern)), exception))
    return patterns


def _regex(pattern: str) -> str:
    regex, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return f"^{regex}$"


def in_context(path: str, patterns: list[tuple[re.Pattern[str], bool]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for regex, exception in patterns:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not exception
    return not excluded


def build_context() -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    patterns = ignore_patterns((ROOT / ".dockerignore").read_text())
    return {path for path in tracked + LOCAL_OUTPUTS if in_context(path, patterns)}


def test_the_matcher_follows_dockers_rules() -> None:
    patterns = ignore_patterns("*\n!src\n**/__pycache__\n# comment\n!/docs/a.py\n")
    assert in_context("src/pkg/mod.py", patterns)
    assert not in_context("src/pkg/__pycache__/mod.pyc", patterns)
    assert not in_context("tests/test_a.py", patterns)
    assert not in_context(".venv", patterns)
    assert in_context("docs/a.py", patterns)
    assert not in_context("docs/b.py", patterns)


def test_the_build_context_holds_the_sources_and_nothing_local() -> None:
    context = build_context()
    for needed in ["pyproject.toml", "Makefile", "README.md", "src/sightline/__init__.py"]:
        assert needed in context
    sources = subprocess.run(
        ["git", "ls-files", "src"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(sources) <= context
    for path in context:
        assert path.split("/")[0] in {"src", "docs", "pyproject.toml", "Makefile", "README.md"}
        assert "__pycache__" not in path and ".egg-info" not in path
    for local in [".venv", ".venv-convert", ".cache", ".git", "data", "tests", ".mypy_cache"]:
        assert not any(path == local or path.startswith(local + "/") for path in context)


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined: (KEYWORD, arguments)."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            result.append((keyword.upper(), " ".join(arguments.split())))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = [[]]
    for keyword, arguments in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            found.append([])
        found[-1].append((keyword, arguments))
    return found[1:]


def last(stage: list[tuple[str, str]], keyword: str) -> str:
    values = [arguments for found, arguments in stage if found == keyword]
    assert values, f"no {keyword} in the runtime stage"
    return values[-1]


def labels(stage: list[tuple[str, str]]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for keyword, arguments in stage:
        if keyword == "LABEL":
            for item in shlex.split(arguments):
                key, _, value = item.partition("=")
                pairs[key] = value
    return pairs


def test_the_runtime_stage_copies_only_the_venv_the_models_and_the_health_check() -> None:
    build, runtime = stages()
    assert ("COPY", ". .") in build
    copies = [arguments for keyword, arguments in runtime if keyword in ("COPY", "ADD")]
    assert copies == [
        "--from=build /opt/sightline /opt/sightline",
        "--from=build /models /models",
        "docs/deploy/healthcheck.py /opt/sightline/healthcheck.py",
    ]
    assert "docs/deploy/healthcheck.py" in build_context()
    # The models are prepared at build time, into the folder the runtime stage copies.
    make = next(arguments for keyword, arguments in build if arguments.startswith("make "))
    assert "install models" in make and "VENV=/opt/sightline" in make
    assert "SIGHTLINE_MODEL_DIR=/models" in last(runtime, "ENV")


def test_the_image_runs_as_a_user_with_a_health_check_and_labels() -> None:
    runtime = stages()[-1]
    user = last(runtime, "USER").split(":")
    assert user[0].isdigit() and int(user[0]) != 0, "numeric, for Kubernetes' runAsNonRoot"
    healthcheck = last(runtime, "HEALTHCHECK")
    assert json.loads(healthcheck[healthcheck.index("CMD ") + 4 :]) == [
        "python3",
        "/opt/sightline/healthcheck.py",
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = next(a for k, a in runtime if k == "ARG" and a.startswith("VERSION="))
    assert version == f"VERSION={project['version']}"
    found = labels(runtime)
    assert found["org.opencontainers.image.version"] == "${VERSION}"
    assert found["org.opencontainers.image.licenses"] == project["license"]
    assert json.loads(last(runtime, "ENTRYPOINT")) == ["sightline"]
    assert json.loads(last(runtime, "CMD")) == ["serve"]


def image_environment() -> dict[str, str]:
    """The runtime stage's ENV (PATH left out: the test runs the venv's own `sightline`)."""
    environment: dict[str, str] = {}
    for keyword, arguments in stages()[-1]:
        if keyword == "ENV":
            for item in shlex.split(arguments):
                key, _, value = item.partition("=")
                environment[key] = value
    environment.pop("PATH")
    return environment


def health_check(pid: int, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), str(pid)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def image_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    """The image's ENTRYPOINT and CMD as a process here, with its environment; only the folders
    and the port are this machine's."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runtime = stages()[-1]
    command = json.loads(last(runtime, "ENTRYPOINT")) + json.loads(last(runtime, "CMD"))
    command[0] = str(Path(sys.executable).with_name(command[0]))
    environment = {
        **os.environ,
        **image_environment(),
        "SIGHTLINE_HOST": "127.0.0.1",
        "SIGHTLINE_PORT": str(port),
        "SIGHTLINE_DATA_DIR": str(tmp_path / "data"),
        "SIGHTLINE_MODEL_DIR": os.environ.get(
            "SIGHTLINE_MODEL_DIR", str(Path.home() / ".cache" / "sightline" / "models")
        ),
    }
    server = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield server, environment
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def command_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]


def test_the_health_check_passes_while_the_images_command_serves_and_fails_after(
    image_process: tuple[subprocess.Popen[bytes], dict[str, str]],
) -> None:
    server, environment = image_process
    deadline = time.monotonic() + 60
    while (checked := health_check(server.pid, environment)).returncode != 0:
        assert server.poll() is None, "the image's command exited"
        assert time.monotonic() < deadline, checked.stderr
        time.sleep(0.2)
    url = f"http://127.0.0.1:{environment['SIGHTLINE_PORT']}"
    assert httpx.get(url + "/healthz").status_code == 200
    argv = command_of(server.pid)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    # A process with the same command line whose port no longer answers.
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *argv])
    try:
        failed = health_check(stand_in.pid, environment)
    finally:
        stand_in.kill()
        stand_in.wait()
    assert failed.returncode == 1 and f"{url}/healthz" in failed.stderr


def health_url(argv: list[str], environment: dict[str, str]) -> str:
    namespace: dict[str, Any] = runpy.run_path(str(HEALTHCHECK))
    return str(namespace["health_url"](argv, environment))


@pytest.mark.parametrize(
    ("argv", "environment", "url"),
    [
        (["/opt/sightline/bin/python", "/opt/sightline/bin/sightline", "serve"], {}, 8080),
        (["python3", "sightline", "serve", "--no-workers", "--port", "8000"], {}, 8000),
        (["sightline", "serve", "--port=8001"], {"SIGHTLINE_PORT": "9"}, 8001),
        (["sightline", "serve"], {"SIGHTLINE_PORT": "8002"}, 8002),
        (["sightline", "worker", "--concurrency", "2"], {}, 9090),
        (["sightline", "worker", "--http-port", "9100", "--port", "1"], {}, 9100),
        (["sightline", "worker"], {"SIGHTLINE_WORKER_HTTP_PORT": "9101"}, 9101),
    ],
)
def test_the_health_check_probes_the_port_of_the_role(
    argv: list[str], environment: dict[str, str], url: int
) -> None:
    assert health_url(argv, environment) == f"http://127.0.0.1:{url}/healthz"


def test_the_health_check_refuses_a_role_without_http() -> None:
    with pytest.raises(SystemExit, match="no HTTP role"):
        health_url(["sightline", "migrate"], {})


def planned_install(checkout: Path) -> str:
    shutil.copy(ROOT / "Makefile", checkout / "Makefile")
    return subprocess.run(
        ["make", "--dry-run", "install"], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout


def test_install_makes_the_venv_again_when_its_python_does_not_resolve(tmp_path: Path) -> None:
    # A venv copied from elsewhere (a checkout's .venv in a build context): uv is there, the
    # python it links to is not.
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to("/nonexistent/python3.11")
    (bin_dir / "uv").touch()
    assert "-m venv --clear .venv" in planned_install(tmp_path)


def test_install_keeps_a_working_venv(tmp_path: Path) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "uv").touch()
    planned = planned_install(tmp_path)
    assert "-m venv" not in planned and "pip install --quiet" not in planned
    assert (
        "uv pip install --python .venv/bin/python --quiet --compile-bytecode --editable ."
        in planned
    )
    # Bytecode compiled at install, the editable source too: a host that sets
    # PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start.
    assert "-m compileall -q src" in planned
