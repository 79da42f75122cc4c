"""Upgrading a running deployment: a catalog at the previous release's schema, holding data that
release wrote, is upgraded with `sightline migrate` of this version while workers of the previous
release are still analysing a backlog and its API still takes uploads. The old workers then drain
(SIGTERM: running jobs finish, nothing new is claimed), workers and an API of this version take
over, and every image ever uploaded must end analysed exactly once with its results, events and
blobs intact.

There are no tagged releases yet, so "the previous release" is `PREVIOUS_RELEASE`: the last main
commit before migration 0010 was merged, whose schema head is 0009 (later migrations only widen
the gap). Its `src/` is taken from the git history (`git archive`: CI needs a clone with
history) and run with this checkout's virtualenv (its dependencies are a subset of this
version's) by putting it first on PYTHONPATH. The features are the model-free ones: that
release's tags model recipe differs from this one's, and the upgrade, not the models, is under
test. Move both constants forward when a release is tagged.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from PIL import Image
from sqlalchemy import create_engine, text

from sightline.search.text import rebuild_documents
from sightline.settings import default_model_dir
from sightline.storage.migrate import MIGRATIONS
from sightline.stores import catalog_indexer
from support.services import Stack, free_port

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = (
    "e115a6f0e6c3d279dc262406c891a17150effbe1"  # main before "Merge text" added migration 0010
)
PREVIOUS_SCHEMA = "0009"
FEATURES = "metadata,color,hash,thumbnail"
ANALYSED_BEFORE = 60  # uploaded and analysed by the old release before the upgrade starts
BACKLOG = 400  # waiting for the old workers when the upgrade starts
DURING = 60  # uploaded to the old API while `sightline migrate` runs
AFTER = 60  # uploaded to the new API once it has taken over
ANALYZED = "sightline.image.analyzed"


def _script() -> str:
    return str(Path(sys.executable).parent / "sightline")


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True)


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's `src/` folder, from the git history."""
    if _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip(
            "needs a git checkout of Sightline: the previous release comes from its history"
        )
    archive = _git("archive", "--format=tar", PREVIOUS_RELEASE, "src")
    if archive.returncode != 0:
        # A shallow clone (some CI checkouts) lacks it; every full clone runs the test.
        pytest.skip(
            f"commit {PREVIOUS_RELEASE} (the previous release) is not in this clone's history; "
            f"`git fetch --unshallow` brings it: {archive.stderr.decode()}"
        )
    folder = tmp_path_factory.mktemp("previous-release")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def picture(index: int) -> bytes:
    """A distinct small PNG per index, so no two uploads share a blob."""
    rng = random.Random(index)
    image = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
    image.putpixel((index % 64, (index // 64) % 48), (index % 256, (index // 256) % 256, 9))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Deployment:
    """The processes of one deployment on one catalog, blob store and queue, old and new."""

    root: Path
    env: dict[str, str]
    catalog_url: str
    shared_data_dir: bool  # the embedded stack keeps catalog, blobs and queue in the data dir
    previous_src: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    uploaded: dict[str, bytes] = field(default_factory=dict)  # image id -> its bytes

    def _command(self, old: bool, name: str, *args: str) -> tuple[list[str], dict[str, str]]:
        data_dir = self.root / ("data" if self.shared_data_dir else name)
        env = dict(self.env)
        if old:
            env["PYTHONPATH"] = str(self.previous_src)
        return [_script(), *args, "--data-dir", str(data_dir)], env

    def spawn(self, name: str, *args: str, old: bool) -> subprocess.Popen[bytes]:
        command, env = self._command(old, name, *args)
        log = self.root / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)
        return process

    def run(self, name: str, *args: str, old: bool) -> subprocess.CompletedProcess[str]:
        command, env = self._command(old, name, *args)
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    def api(self, name: str, *, old: bool) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        process = self.spawn(name, "serve", "--no-workers", "--port", str(port), old=old)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, self.log_tail()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, self.log_tail()
            time.sleep(0.2)

    def upload(self, url: str, indexes: Sequence[int]) -> None:
        def one(index: int) -> tuple[str, bytes]:
            body = picture(index)
            response = httpx.post(
                f"{url}/v1/images",
                content=body,
                headers={"content-type": "image/png"},
                timeout=60,
            )
            assert response.status_code == 202, response.text
            return response.json()["images"][0]["id"], body

        with ThreadPoolExecutor(4) as pool:
            self.uploaded.update(pool.map(one, indexes))

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        engine = create_engine(self.catalog_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(statement))]
        finally:
            engine.dispose()

    def unfinished(self) -> int:
        return int(self.query("SELECT count(*) FROM images WHERE status <> 'done'")[0][0])

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what}\n{self.log_tail()}"
            time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logged(self, name: str, words: str) -> bool:
        return words in (self.root / f"{name}.log").read_text()

    def log_tail(self) -> str:
        return "\n".join(f"== {log.name}\n{log.read_text()[-3000:]}" for log in self.logs)


def drain(deployment: Deployment, process: subprocess.Popen[bytes], *, api: bool = False) -> None:
    """SIGTERM, as a rolling update does: a worker's warm stop exits 0 once its running jobs
    are done; an API's server shuts down gracefully, then dies of the signal it re-raises."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a process did not stop within 60 s of SIGTERM\n{deployment.log_tail()}")
    assert code == (-signal.SIGTERM if api else 0), deployment.log_tail()


def schema_revision(deployment: Deployment) -> str:
    return str(deployment.query("SELECT version_num FROM alembic_version")[0][0])


def results(deployment: Deployment, ids: Sequence[str]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Each (image, feature)'s result row as stored."""
    listed = ", ".join(f"'{image_id}'" for image_id in ids)
    rows = deployment.query(
        "SELECT image_id, feature, status, analyzer, version, result, updated_at "
        f"FROM feature_results WHERE image_id IN ({listed})"
    )
    return {(row[0], row[1]): row[2:] for row in rows}


def search_documents(deployment: Deployment, *, rebuilt: bool) -> list[tuple[Any, ...]]:
    """The search index's documents as stored, or (`rebuilt`) as the stored results make them
    now, rebuilt in a transaction that is rolled back."""
    engine = create_engine(deployment.catalog_url)
    try:
        with engine.connect() as conn:
            if rebuilt:
                rebuild_documents(conn, catalog_indexer(default_model_dir()))
            found = conn.execute(text("SELECT * FROM image_text ORDER BY 1"))
            rows = [tuple(str(value) for value in row) for row in found]
            conn.rollback()
            return rows
    finally:
        engine.dispose()


def upgrade_while_old_workers_drain(deployment: Deployment) -> None:
    """The scenario, on whichever backends `deployment` has."""
    # The previous release creates its schema and analyses some uploads: data as it wrote them.
    created = deployment.run("old-migrate", "migrate", old=True)
    assert created.returncode == 0, created.stdout + created.stderr
    assert schema_revision(deployment) == PREVIOUS_SCHEMA
    old_api, old_url = deployment.api("old-api", old=True)
    first_worker = deployment.spawn("old-worker", "worker", old=True)
    deployment.upload(old_url, range(ANALYSED_BEFORE))
    deployment.wait(lambda: deployment.unfinished() == 0, "the old release did not analyse")
    analysed_before = list(deployment.uploaded)
    results_before = results(deployment, analysed_before)
    assert len(results_before) == ANALYSED_BEFORE * len(FEATURES.split(","))
    drain(deployment, first_worker)

    # A backlog (uploaded while no worker runs, since they would keep up) keeps the old workers
    # busy through the upgrade, and uploads go on during it.
    deployment.upload(old_url, range(ANALYSED_BEFORE, ANALYSED_BEFORE + BACKLOG))
    old_workers = [
        deployment.spawn(f"old-worker{n}", "worker", "--concurrency", "1", old=True)
        for n in range(2)
    ]
    deployment.wait(
        lambda: all(deployment.logged(f"old-worker{n}", "running") for n in range(2)),
        "the old workers did not start",
    )
    during = threading.Thread(
        target=deployment.upload,
        args=(old_url, range(ANALYSED_BEFORE + BACKLOG, ANALYSED_BEFORE + BACKLOG + DURING)),
    )
    during.start()
    upgraded = deployment.run("new-migrate", "migrate", old=False)
    during.join()
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head != PREVIOUS_SCHEMA and schema_revision(deployment) == head
    waiting_at_takeover = deployment.unfinished()
    assert waiting_at_takeover > 0, "the backlog was gone before the upgrade: make it larger"

    # This version takes over: its workers and API start, the old ones drain and stop.
    new_workers = [
        deployment.spawn(f"new-worker{n}", "worker", "--concurrency", "2", old=False)
        for n in range(2)
    ]
    new_api, new_url = deployment.api("new-api", old=False)
    for process in old_workers:
        drain(deployment, process)
    drain(deployment, old_api, api=True)
    first_after = ANALYSED_BEFORE + BACKLOG + DURING
    deployment.upload(new_url, range(first_after, first_after + AFTER))
    deployment.wait(lambda: deployment.unfinished() == 0, "images left unanalysed")
    assert all(process.poll() is None for process in [*new_workers, new_api])

    # Every upload, old and new, is in the catalog with one done result per feature.
    ids = list(deployment.uploaded)
    assert len(ids) == ANALYSED_BEFORE + BACKLOG + DURING + AFTER
    assert {row[0] for row in deployment.query("SELECT id FROM images")} == set(ids)
    counts = deployment.query(
        "SELECT feature, status, count(*) FROM feature_results GROUP BY feature, status"
    )
    assert sorted(counts) == [(name, "done", len(ids)) for name in sorted(FEATURES.split(","))]
    # What the old release had analysed is untouched: neither rewritten nor analysed again.
    assert results(deployment, analysed_before) == results_before
    # Exactly one completion per image, and no event left undelivered to the outbox.
    assert (
        deployment.query(
            f"SELECT subject, count(*) FROM events WHERE type = '{ANALYZED}' "
            "GROUP BY subject HAVING count(*) <> 1"
        )
        == []
    )
    analysed = deployment.query(
        f"SELECT count(DISTINCT subject) FROM events WHERE type = '{ANALYZED}'"
    )
    assert analysed == [(len(ids),)]
    # The last completions reach the outbox's relay a moment after their images read done.
    deployment.wait(
        lambda: (
            deployment.query(
                "SELECT count(*) FROM events "
                "WHERE finished_at IS NULL AND type LIKE 'sightline.image.%'"
            )
            == [(0,)]
        ),
        "events left unfinished in the outbox",
        timeout=60,
    )

    # No job failed on the way (a deadlock with the migration would be retried, but is a
    # fault), and no search document was overwritten by the migration's older view of it.
    assert not any("failed (attempt" in log.read_text() for log in deployment.logs), (
        deployment.log_tail()
    )
    assert search_documents(deployment, rebuilt=False) == search_documents(deployment, rebuilt=True)

    # Nothing lost or left over in the blob store: every reference verified, no orphan.
    checked = deployment.run("check", "check", "--json", old=False)
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["left"] == 0, checked.stdout + checked.stderr
    assert {kind: p["found"] for kind, p in report["problems"].items() if p["found"]} == {}
    assert report["blobs"]["verified"] == report["blobs"]["referenced"] >= len(ids) * 2
    # Every original reads back byte for byte through the new API, with its thumbnail.
    with httpx.Client(base_url=new_url, timeout=30) as http:
        for image_id, body in deployment.uploaded.items():
            content = http.get(f"/v1/images/{image_id}/content")
            assert content.status_code == 200
            assert hashlib.sha256(content.content).digest() == hashlib.sha256(body).digest()
            assert http.get(f"/v1/images/{image_id}/thumbnail?size=128").status_code == 200


@pytest.fixture
def scaled(services: Stack, previous_release: Path, tmp_path: Path) -> Iterator[Deployment]:
    services.redis.flush()
    database = services.postgres.new_database()
    env = {
        **os.environ,
        "SIGHTLINE_CATALOG_URL": database,
        "SIGHTLINE_BLOB_URL": services.s3.blob_url(services.s3.new_bucket(), "upgrade"),
        "SIGHTLINE_QUEUE_URL": services.redis.url,
        "SIGHTLINE_DEFAULT_FEATURES": FEATURES,
        "SIGHTLINE_POLL_INTERVAL_SECONDS": "0.1",
    }
    deployment = Deployment(tmp_path, env, database, False, previous_release)
    try:
        yield deployment
    finally:
        deployment.stop()
        services.postgres.drop_database(database)


@pytest.fixture
def embedded(previous_release: Path, tmp_path: Path) -> Iterator[Deployment]:
    """SQLite catalog and queue and a local folder, shared by processes on one machine."""
    env = {
        **os.environ,
        "SIGHTLINE_DEFAULT_FEATURES": FEATURES,
        "SIGHTLINE_POLL_INTERVAL_SECONDS": "0.1",
    }
    catalog = f"sqlite:///{tmp_path / 'data' / 'catalog.db'}"
    deployment = Deployment(tmp_path, env, catalog, True, previous_release)
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.mark.timeout(600)
def test_postgresql_upgrade_while_the_previous_releases_workers_drain(
    scaled: Deployment,
) -> None:
    upgrade_while_old_workers_drain(scaled)


@pytest.mark.timeout(600)
def test_sqlite_upgrade_while_the_previous_releases_workers_drain(embedded: Deployment) -> None:
    upgrade_while_old_workers_drain(embedded)
