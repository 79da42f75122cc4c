"""The markers that tests/conftest.py sets from each test's fixtures and parameters: `make
test-fast` leaves out every test they mark, so a server-backed variant that went unmarked would
start that server there, and a marked embedded variant would go untested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import servers_started_only_if_marked
from support.services import Service
from support.slow import SLOW_TESTS

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

# A plugin for the collecting pytest: each collected test's markers and string parameters.
DUMP_PLUGIN = """
import json, os

def pytest_collection_finish(session):
    found = {}
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        found[item.nodeid] = {
            "markers": sorted({mark.name for mark in item.iter_markers()}),
            "params": {k: v for k, v in params.items() if isinstance(v, str)},
        }
    with open(os.environ["MARKER_DUMP"], "w") as out:
        json.dump(found, out)
"""

KINDS = {"postgres", "redis", "s3", "browser"}


def collect(tmp_path: Path, *paths: str) -> dict[str, dict[str, Any]]:
    """Collects `paths` in a pytest of their own: {nodeid: {"markers": [...], "params": {}}}."""
    (tmp_path / "markerdump.py").write_text(DUMP_PLUGIN)
    dump = tmp_path / "markers.json"
    python_path = os.pathsep.join([str(tmp_path), str(TESTS), os.environ.get("PYTHONPATH", "")])
    collection = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + ["-p", "markerdump", *paths],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": python_path, "MARKER_DUMP": str(dump)},
        capture_output=True,
        text=True,
    )
    assert collection.returncode == 0, collection.stdout + collection.stderr
    found: dict[str, dict[str, Any]] = json.loads(dump.read_text())
    return found


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return collect(
        tmp_path_factory.mktemp("markers"),
        "tests/images/test_sql.py",
        "tests/images/test_concurrency.py",
        "tests/cluster/test_cluster.py",
        "tests/queue/test_contract.py",
        "tests/queue/test_redis.py",
        "tests/blobs/test_contract.py",
        "tests/webhooks/test_app.py",
        "tests/web/test_browser.py",
    )


def kinds(test: dict[str, Any]) -> set[str]:
    return set(test["markers"]) & KINDS


def test_each_variant_is_marked_with_the_server_its_parameter_picks(
    collected: dict[str, dict[str, Any]],
) -> None:
    expected = {
        ("catalog_url", "sqlite"): set(),
        ("catalog_url", "postgresql"): {"postgres"},
        ("queue_backend", "sqlite"): set(),
        ("queue_backend", "redis"): {"redis"},
        ("blob_url", "file"): set(),
        ("blob_url", "s3"): {"s3"},
        ("backends", "embedded"): set(),
        ("backends", "scaled"): {"postgres", "redis", "s3"},
    }
    seen = set()
    for nodeid, test in collected.items():
        for param in test["params"].items():
            if param in expected:
                seen.add(param)
                assert kinds(test) == expected[param], nodeid
        if nodeid.startswith("tests/web/test_browser.py"):
            assert kinds(test) == {"browser"}, nodeid
    assert seen == set(expected)


def test_a_test_naming_the_whole_stack_gets_every_server_unless_it_names_its_own(
    collected: dict[str, dict[str, Any]],
) -> None:
    cluster = [test for nodeid, test in collected.items() if "test_cluster.py" in nodeid]
    assert cluster and all(kinds(test) == {"postgres", "redis", "s3"} for test in cluster)
    # This one asks for `services` but is marked postgres by hand: that is all it gets.
    named = collected[
        "tests/images/test_concurrency.py::test_a_deletion_cut_off_before_its_commit_keeps_the_blob"
    ]
    assert kinds(named) == {"postgres"}


def test_a_test_phase_that_starts_a_server_without_a_marker_fails(
    request: pytest.FixtureRequest,
) -> None:
    phase = servers_started_only_if_marked(request.node)
    next(phase)
    Service.spawned += 1  # what starting any server counts
    try:
        with pytest.raises(pytest.fail.Exception, match="started a server but has none"):
            next(phase)
    finally:
        Service.spawned -= 1  # or this test's own phase would fail the same way


def test_every_listed_slow_test_exists() -> None:
    for nodeid in SLOW_TESTS:
        path, *names = nodeid.split("::")
        source = (ROOT / path).read_text()
        for name in names:  # classes, then the function
            assert f"class {name}" in source or f"def {name}(" in source, nodeid
