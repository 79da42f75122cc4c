"""Workers: failures stay per feature, retries back off, dead letters, leases, shutdown, kills."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from sightline.app import Sightline
from sightline.cli import main
from sightline.images.service import Upload
from sightline.queue import JobState
from sightline.settings import Settings
from sightline.storage import tables as t
from sightline.storage.records import FeatureStatus, ImageRecord, ImageStatus
from sightline.vision import Analysis, Independent, Inputs, Picture, ResultModel, SkipFeature
from sightline.vision.color import ColorAnalyzer
from support.imagegen import noise, solid
from support.prometheus import sample
from support.services import Stack
from support.slow_worker import SlowAnalyzer, with_slow, worker_settings

HERE = Path(__file__).parent


class ExplodingAnalyzer(Independent):
    name = "boom"
    version = "1"
    result_model = ResultModel

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        raise RuntimeError("analyzer bug")


class NotApplicable(Independent):
    name = "never"
    version = "1"
    result_model = ResultModel

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        raise SkipFeature("does not apply to test pictures")


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def image(app: Sightline, image_id: str) -> ImageRecord:
    record = app.stores.images.get_image(image_id)
    assert record is not None
    return record


def finished(app: Sightline, image_id: str) -> Callable[[], bool]:
    return lambda: image(app, image_id).status in (ImageStatus.DONE, ImageStatus.FAILED)


def event_types(app: Sightline, image_id: str) -> list[str]:
    return [
        event.envelope["type"]
        for event in app.stores.events.events_after(0, 1000)
        if event.envelope["subject"] == f"images/{image_id}"
    ]


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., Sightline]]:
    apps: list[Sightline] = []

    def make(analyzers: dict[str, object], **overrides: object) -> Sightline:
        overrides.setdefault("default_features", ",".join(analyzers))
        app = Sightline(settings.model_copy(update=overrides), analyzers=analyzers)  # type: ignore[arg-type]
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def test_a_crashing_analyzer_fails_only_its_feature(make_app: Callable[..., Sightline]) -> None:
    app = make_app(
        {"color": ColorAnalyzer(), "boom": ExplodingAnalyzer(), "never": NotApplicable()}
    )
    app.pool.start()
    [ingested] = app.service.ingest([Upload(solid("red"))], collection="default")
    wait_for(finished(app, ingested.image.id))
    record = image(app, ingested.image.id)
    assert record.status is ImageStatus.FAILED
    assert record.features["color"].status is FeatureStatus.DONE
    assert record.features["color"].result is not None
    assert record.features["boom"].status is FeatureStatus.FAILED
    assert record.features["boom"].error == {
        "code": "AnalyzerError",
        "message": "RuntimeError: analyzer bug",
    }
    assert record.features["never"].status is FeatureStatus.SKIPPED
    assert record.features["never"].result == {"reason": "does not apply to test pictures"}
    assert event_types(app, record.id) == ["sightline.image.created", "sightline.image.failed"]
    # A feature failure is a result, not a retry: the job is acknowledged after one attempt
    # (the acknowledgement lands just after the image's final event, hence the wait).
    wait_for(lambda: app.queue.depth()[JobState.DONE] == 1)
    assert _attempts(app) == 1
    assert 'sightline_feature_failures_total{feature="boom"} 1.0' in app.metrics.render().decode()


def test_a_skipped_feature_still_ends_done(make_app: Callable[..., Sightline]) -> None:
    app = make_app({"color": ColorAnalyzer(), "never": NotApplicable()})
    app.pool.start()
    [ingested] = app.service.ingest([Upload(solid("red"))], collection="default")
    wait_for(finished(app, ingested.image.id))
    assert image(app, ingested.image.id).status is ImageStatus.DONE
    assert event_types(app, ingested.image.id)[-1] == "sightline.image.analyzed"


def test_transient_failures_are_retried_with_backoff(make_app: Callable[..., Sightline]) -> None:
    app = make_app({"color": ColorAnalyzer()}, job_max_attempts=5, job_backoff_seconds=0.2)
    data = noise(1)
    [ingested] = app.service.ingest([Upload(data)], collection="default")
    app.blobs.delete(ingested.image.sha256)  # the blob store "loses" the file for a while
    app.pool.start()
    wait_for(lambda: bool(app.queue.dead_letters()) or _attempts(app) >= 2)
    assert image(app, ingested.image.id).status is not ImageStatus.DONE
    app.blobs.put(data)  # the store recovers
    wait_for(finished(app, ingested.image.id))
    record = image(app, ingested.image.id)
    assert record.status is ImageStatus.DONE
    assert _attempts(app) >= 2
    assert app.queue.dead_letters() == []


def test_hopeless_jobs_are_dead_lettered_with_the_last_error(
    make_app: Callable[..., Sightline],
) -> None:
    app = make_app({"color": ColorAnalyzer()}, job_max_attempts=3, job_backoff_seconds=0.01)
    [ingested] = app.service.ingest([Upload(noise(2))], collection="default")
    app.blobs.delete(ingested.image.sha256)
    app.pool.start()
    wait_for(finished(app, ingested.image.id))
    record = image(app, ingested.image.id)
    assert record.status is ImageStatus.FAILED
    error = record.features["color"].error
    assert error is not None and error["code"] == "JobFailed"
    assert "BlobNotFound" in error["message"]
    [dead] = app.queue.dead_letters()
    assert dead.attempts == 3
    assert dead.last_error is not None and "BlobNotFound" in dead.last_error
    assert dead.payload == {"image_id": record.id, "features": ["color"]}
    assert event_types(app, record.id)[-1] == "sightline.image.failed"

    app.blobs.put(noise(2))  # fixed by an operator: requeue and it completes
    assert app.queue.requeue(dead.id)
    wait_for(lambda: image(app, record.id).status is ImageStatus.DONE)


def test_warm_stop_lets_the_running_job_finish(make_app: Callable[..., Sightline]) -> None:
    app = make_app(with_slow(1.0))
    [ingested] = app.service.ingest([Upload(solid())], features=["slow"], collection="default")
    app.pool.start()
    wait_for(lambda: image(app, ingested.image.id).features["slow"].status is FeatureStatus.RUNNING)
    assert app.pool.stop(timeout=10)
    assert image(app, ingested.image.id).status is ImageStatus.DONE
    assert app.queue.depth()[JobState.DONE] == 1


def test_deleted_before_analysis_is_a_no_op(make_app: Callable[..., Sightline]) -> None:
    app = make_app({"color": ColorAnalyzer()})
    [ingested] = app.service.ingest([Upload(solid())], collection="default")
    app.service.delete(ingested.image.id, collection=None)
    app.pool.start()
    wait_for(lambda: app.queue.depth()[JobState.DONE] == 1)
    assert app.stores.images.get_image(ingested.image.id) is None
    assert not app.blobs.exists(ingested.image.sha256)


def test_a_killed_worker_job_completes_later_exactly_once(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "shared")
    api = Sightline(worker_settings(data_dir, workers=0), analyzers=with_slow(0))  # type: ignore[arg-type]
    try:
        [ingested] = api.service.ingest(
            [Upload(noise(4))], features=["color", "slow"], collection="default"
        )
        image_id = ingested.image.id
        doomed = _spawn_worker(data_dir, seconds=60)
        try:
            wait_for(lambda: image(api, image_id).features["slow"].status is FeatureStatus.RUNNING)
        finally:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
        assert image(api, image_id).status is ImageStatus.PROCESSING

        survivor = _spawn_worker(data_dir, seconds=0)
        try:
            wait_for(finished(api, image_id), timeout=30)
        finally:
            survivor.terminate()
            survivor.wait()
        record = image(api, image_id)
        assert record.status is ImageStatus.DONE
        assert record.features["slow"].result == {"slept": 0.0, "width": 96}
        with api.stores.db.read() as conn:
            rows = conn.scalar(
                select(func.count())
                .select_from(t.feature_results)
                .where(t.feature_results.c.image_id == image_id)
            )
        assert rows == 2
        assert event_types(api, image_id).count("sightline.image.analyzed") == 1
        assert _attempts(api) == 2
        # The kill left nothing behind: no orphan, no stale part, no job missing or dead.
        checked = CliRunner().invoke(
            main, ["check", "--data-dir", data_dir, "--grace-seconds", "0.001", "--json"]
        )
        assert checked.exit_code == 0 and json.loads(checked.output)["left"] == 0, checked.output
    finally:
        api.close()


def test_the_worker_command_processes_jobs_and_stops_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "cli"
    api = Sightline(Settings(data_dir=data_dir, workers=0))
    try:
        [ingested] = api.service.ingest([Upload(solid("green"))], collection="default")
        env = {**os.environ, "SIGHTLINE_POLL_INTERVAL_SECONDS": "0.05"}
        worker = subprocess.Popen(
            [_console_script(), "worker", "--data-dir", str(data_dir), "--concurrency", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(finished(api, ingested.image.id), timeout=30)
            assert image(api, ingested.image.id).status is ImageStatus.DONE
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=15)
            assert worker.returncode == 0
            assert "finishing running jobs" in output.decode()
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    finally:
        api.close()


def _attempts(app: Sightline) -> int:
    from sightline.queue.sqlite import jobs

    with app.queue.db.read() as conn:  # type: ignore[attr-defined]
        return int(conn.scalar(select(func.max(jobs.c.attempts))) or 0)


def _spawn_worker(data_dir: str, *, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "support" / "slow_worker.py"), data_dir, str(seconds)],
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )


def _console_script() -> str:
    return str(Path(sys.executable).with_name("sightline"))


__all__ = ["SlowAnalyzer"]


def test_a_blob_store_failure_is_retried_not_blamed_on_the_analyzer(
    make_app: Callable[..., Sightline], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sightline.vision.thumbnail import ThumbnailAnalyzer

    app = make_app({"thumbnail": ThumbnailAnalyzer()}, job_backoff_seconds=0.05)
    [ingested] = app.service.ingest([Upload(noise(6))], collection="default")
    real_put = app.blobs.put
    failures = iter([OSError("disk full")])

    def flaky_put(data: bytes) -> str:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_put(data)

    monkeypatch.setattr(app.blobs, "put", flaky_put)
    app.pool.start()
    wait_for(finished(app, ingested.image.id))
    record = image(app, ingested.image.id)
    assert record.status is ImageStatus.DONE
    assert record.features["thumbnail"].error is None
    assert _attempts(app) == 2


def _queued_then_lost(settings: Settings, lose: Callable[[Path], None]) -> str:
    """Upload with no worker running, relay the job into the queue, then lose it."""
    app = Sightline(settings.model_copy(update={"workers": 0}))
    try:
        [ingested] = app.service.ingest([Upload(solid("purple"))], collection="default")
        assert app.pool.relay.relay_all() == 1
    finally:
        app.close()
    lose(settings.data_dir / "queue.db")
    return ingested.image.id


def test_workers_rebuild_a_queue_that_lost_its_data_from_the_catalog(settings: Settings) -> None:
    def delete_queue(path: Path) -> None:
        for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
            (path.parent / name).unlink(missing_ok=True)

    image_id = _queued_then_lost(settings, delete_queue)
    app = Sightline(settings)  # a new queue.db: a new epoch
    try:
        app.start_workers()
        wait_for(finished(app, image_id))
        assert image(app, image_id).status is ImageStatus.DONE
        assert event_types(app, image_id).count("sightline.image.analyzed") == 1
    finally:
        app.close()


def test_queue_rebuild_requeues_jobs_the_queue_dropped(settings: Settings) -> None:
    from click.testing import CliRunner

    from sightline.cli import main
    from sightline.queue.sqlite import jobs

    def drop_jobs(path: Path) -> None:
        app = Sightline(settings.model_copy(update={"workers": 0}))
        try:
            with app.queue.db.write() as conn:  # type: ignore[attr-defined]
                conn.execute(jobs.delete())
        finally:
            app.close()

    image_id = _queued_then_lost(settings, drop_jobs)
    args = ["queue", "rebuild", "--data-dir", str(settings.data_dir)]
    rebuilt = CliRunner().invoke(main, args)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "1 unfinished jobs handed back; 1 enqueued." in rebuilt.output
    again = CliRunner().invoke(main, args)
    assert "1 unfinished jobs handed back; 0 enqueued." in again.output  # already queued

    app = Sightline(settings)
    try:
        app.start_workers()
        wait_for(finished(app, image_id))
        assert image(app, image_id).status is ImageStatus.DONE
    finally:
        app.close()
    rebuilt = CliRunner().invoke(main, args)
    assert "0 unfinished jobs handed back; 0 enqueued." in rebuilt.output


def test_a_batch_relayed_while_another_relay_saw_the_queue_lost_is_relayed_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relay B enqueues into a queue that then loses its data; relay A notices first and hands
    back the unfinished jobs, which do not yet include B's batch. B must not mark it dispatched."""
    app = Sightline(settings.model_copy(update={"workers": 0}))
    try:
        [ingested] = app.service.ingest([Upload(solid("teal"))], collection="default")
        relay = app.pool.relay
        relay.check_queue_epoch()
        mark = app.stores.events.mark_dispatched

        def lost_meanwhile(*args: Any, **kwargs: Any) -> bool:
            app.stores.events.sync_queue_epoch("the queue after its loss")  # relay A's doing
            return mark(*args, **kwargs)

        monkeypatch.setattr(app.stores.events, "mark_dispatched", lost_meanwhile)
        assert relay.run_once() == 0
        [pending] = app.stores.events.undispatched_events(10)
        assert pending.envelope["data"]["id"] == ingested.image.id
        monkeypatch.undo()
        relay.run_once()  # sees the catalog's new epoch and relays the batch again
        assert app.stores.events.undispatched_events(10) == []
    finally:
        app.close()


def test_lease_renewals_and_jobs_are_counted_by_kind(make_app: Callable[..., Sightline]) -> None:
    app = make_app(with_slow(0.6), job_lease_seconds=0.3)  # renewed every 0.1 s
    [ingested] = app.service.ingest([Upload(solid())], features=["slow"], collection="default")
    app.pool.start()
    wait_for(finished(app, ingested.image.id))
    app.pool.stop(timeout=10)
    text = app.metrics.render().decode()
    assert (sample(text, "sightline_lease_renewals_total", outcome="renewed") or 0) >= 2
    assert sample(text, "sightline_lease_renewals_total", outcome="lost") is None
    assert sample(text, "sightline_jobs_total", kind="analyze", outcome="done") == 1


def test_a_queue_outage_mid_job_is_logged_as_warnings_without_tracebacks(
    make_app: Callable[..., Sightline],
    stoppable_redis: Stack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(with_slow(1.0), queue_url=f"{stoppable_redis.redis.url}?namespace=outage")
    [ingested] = app.service.ingest([Upload(solid())], features=["slow"], collection="default")
    app.pool.start()
    wait_for(lambda: image(app, ingested.image.id).features["slow"].status is FeatureStatus.RUNNING)
    stoppable_redis.redis.kill()  # the job ends while Redis is gone: its outcome is not recorded
    wait_for(lambda: any("Recording the outcome" in line for line in caplog.messages))
    app.pool.stop(timeout=10)
    logged = [record for record in caplog.records if record.name.startswith("sightline")]
    assert logged and all(record.levelno == logging.WARNING for record in logged), [
        record.getMessage() for record in logged
    ]
    assert not any(record.exc_info for record in logged)


def test_a_redis_restart_under_a_running_job_logs_warnings_not_tracebacks(
    make_app: Callable[..., Sightline],
    stoppable_redis: Stack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An expected, retried fault says what happened in one line; the job is still done."""
    app = make_app(
        {"slow": SlowAnalyzer(1.0)},
        queue_url=f"{stoppable_redis.redis.url}?namespace=restart-{os.getpid()}-{time.monotonic_ns()}",
        job_lease_seconds=1.5,
        poll_interval_seconds=0.05,
    )
    [ingested] = app.service.ingest([Upload(noise(4))], collection="default")
    app.pool.start()
    wait_for(lambda: app.queue.depth()[JobState.RUNNING] == 1)
    stoppable_redis.redis.kill()
    try:
        time.sleep(3.0)  # the job ends while Redis is away: its outcome cannot be recorded
    finally:
        stoppable_redis.redis.start()
    wait_for(finished(app, ingested.image.id), timeout=30)

    ours = [record for record in caplog.records if record.name.startswith("sightline")]
    assert any("Recording the outcome of job" in record.message for record in ours)
    assert [record.getMessage() for record in ours if record.exc_info] == []
    assert all(record.levelno <= logging.WARNING for record in ours)
