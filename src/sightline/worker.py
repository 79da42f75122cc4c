"""Background work: relay the outbox into the queue, and run the queue's jobs.

`WorkerPool` runs one relay thread and N worker threads, in `sightline serve` next to the API
or alone in `sightline worker`. Stopping is warm: no new job is claimed and running ones finish.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sightline.errors import BackendError
from sightline.events import JOB_EVENTS, REQUEST_ID_ATTRIBUTE, JobKind, job_event_id, job_id
from sightline.logs import log_context
from sightline.metrics import Metrics
from sightline.queue import Job, JobQueue, JobState
from sightline.settings import Settings
from sightline.storage.outbox import EventLog

log = logging.getLogger(__name__)

RELAY_BATCH = 200
PRUNE_EVERY_SECONDS = 3600.0


class JobHandler(Protocol):
    """Does one kind of job. `process` raising means "retry later"; once retries are spent,
    `give_up` records the failure where users will see it."""

    def process(self, job: Job) -> None: ...

    def give_up(self, job: Job, error: str) -> None: ...


def job_kind(job: Job) -> JobKind:
    return JobKind(job.payload.get("kind", JobKind.ANALYZE))


def kind_label(job: Job) -> str:
    """The job's kind for metrics, read without judging it: an unknown one fails in its run."""
    return str(job.payload.get("kind", JobKind.ANALYZE))


class OutboxRelay:
    """Turns undispatched job events into queue jobs. Enqueue is idempotent by job id, so a
    crash between enqueue and marking the event dispatched only causes a harmless retry.

    The catalog, not the queue, is the record of what must be done: before each batch the relay
    compares the queue's epoch with the one the catalog remembers. A different epoch means the
    queue lost its data (a Redis restart without persistence, a flush), and every relayed event
    whose job never finished is relayed again.
    """

    def __init__(self, events: EventLog, queue: JobQueue, settings: Settings) -> None:
        self.events = events
        self.queue = queue
        self.retention = timedelta(days=settings.event_retention_days)
        self._last_prune = 0.0
        self._epoch: str | None = None

    def run_once(self) -> int:
        """Relay one batch; returns how many jobs were newly enqueued."""
        epoch = self.check_queue_epoch()
        events = self.events.undispatched_events(RELAY_BATCH)
        enqueued = 0
        no_job: list[int] = []
        for event in events:
            envelope = event.envelope
            kind = JOB_EVENTS.get(envelope["type"])
            # Optional in a payload: jobs queued by earlier versions have none.
            request = (
                {"request_id": envelope[REQUEST_ID_ATTRIBUTE]}
                if REQUEST_ID_ATTRIBUTE in envelope
                else {}
            )
            if kind is JobKind.ANALYZE and envelope["data"].get("features"):
                payload = {
                    "image_id": envelope["data"]["id"],
                    "features": envelope["data"]["features"],
                    **request,
                }
                enqueued += self.queue.enqueue(job_id(kind, envelope["id"]), payload)
            elif kind is not None and kind is not JobKind.ANALYZE:
                payload = {**envelope["data"], "kind": str(kind), **request}
                enqueued += self.queue.enqueue(job_id(kind, envelope["id"]), payload)
            else:
                no_job.append(event.seq)
        if not self.events.mark_dispatched(
            [event.seq for event in events], finished=no_job, epoch=epoch
        ):
            log.info("The queue changed while relaying: this batch will be relayed again")
            self._epoch = None  # compare with the catalog's epoch again before the next batch
            return 0
        if time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS:
            self._last_prune = time.monotonic()
            self.events.prune_events(datetime.now(UTC) - self.retention)
        return enqueued

    def relay_all(self) -> int:
        """Relay until the outbox is empty; returns how many jobs were newly enqueued."""
        enqueued = 0
        while self.events.undispatched_events(1):
            enqueued += self.run_once()
        return enqueued

    def check_queue_epoch(self) -> str:
        """The queue's epoch, after handing back unfinished jobs if it is new to the catalog."""
        epoch = self.queue.epoch()
        if epoch == self._epoch:
            return epoch
        handed_back = self.events.sync_queue_epoch(epoch)
        if handed_back:
            log.warning(
                "The job queue lost its data (new epoch %s): relaying %d unfinished jobs again",
                epoch,
                handed_back,
            )
        self._epoch = epoch
        return epoch


class WorkerPool:
    def __init__(
        self,
        settings: Settings,
        queue: JobQueue,
        relay: OutboxRelay,
        events: EventLog,
        handlers: Mapping[JobKind, JobHandler],
        metrics: Metrics,
        *,
        threads: int,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.relay = relay
        self.events = events
        self.handlers = dict(handlers)
        self.metrics = metrics
        self.thread_count = threads
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        self.work_available = threading.Event()
        self.relay_wanted = threading.Event()
        self._threads: list[threading.Thread] = []

    def notify(self) -> None:
        """Something was written to the outbox: relay it now rather than at the next poll."""
        self.relay_wanted.set()

    def start(self) -> None:
        self.stopping.clear()
        self._threads = [
            threading.Thread(target=self._relay_loop, name="sightline-relay", daemon=True)
        ]
        self._threads += [
            threading.Thread(
                target=self._work_loop,
                args=(f"{self.name}/{index}",),
                name=f"sightline-worker-{index}",
                daemon=True,
            )
            for index in range(self.thread_count)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Warm stop: claim nothing new, let running jobs finish. False if some did not in time."""
        self.stopping.set()
        self.work_available.set()
        self.relay_wanted.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _relay_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                if self.relay.run_once():
                    self.work_available.set()
                    continue
            except BackendError as exc:
                log.warning("Outbox relay failed, retrying: %s", exc.message)
            except Exception:
                log.exception("Outbox relay failed; retrying")
            self.relay_wanted.wait(self.settings.poll_interval_seconds)
            self.relay_wanted.clear()

    def _work_loop(self, worker: str) -> None:
        while not self.stopping.is_set():
            try:
                job = self.queue.claim(worker)
            except BackendError as exc:  # e.g. the queue's server is restarting: no traceback
                log.warning("Claiming a job failed, retrying: %s", exc.message)
                job = None
            except Exception:
                log.exception("Claiming a job failed; retrying")
                job = None
            if job is None:
                self.work_available.wait(self.settings.poll_interval_seconds)
                self.work_available.clear()
                continue
            self.run_claimed(job)

    def run_claimed(self, job: Job) -> None:
        """Run a claimed job; a queue that fails to record its outcome is logged, not raised:
        the lease runs out and the job comes back, to be repeated harmlessly."""
        try:
            self.run_job(job)
        except BackendError as exc:  # e.g. Redis restarting: expected, and retried
            log.warning(
                "Recording the outcome of job %s failed, it will run again: %s", job.id, exc.message
            )
        except Exception:
            log.exception("Recording the outcome of job %s failed", job.id)

    def run_job(self, job: Job) -> None:
        # Its log lines and the events it writes name the job and the request behind it.
        with log_context(
            job_id=job.id,
            image_id=job.payload.get("image_id"),
            request_id=job.payload.get("request_id"),
        ):
            self._run_job(job)

    def _run_job(self, job: Job) -> None:
        started = time.perf_counter()
        kind = kind_label(job)
        if job.attempt > self.settings.job_max_attempts:
            # Only a lease that ran out after the last attempt gets here: its worker was lost.
            self._dead_letter(
                job, job.last_error or "The worker running the last attempt was lost."
            )
            return
        try:
            with self._heartbeat(job):
                self.handlers[job_kind(job)].process(job)
            # The catalog first: a crash in between repeats an idempotent job, no more.
            self.events.mark_jobs_finished([job_event_id(job.id)])
        except Exception as exc:
            if isinstance(exc, BackendError):  # a store was unreachable: no bug to trace
                log.warning("Job %s failed (attempt %d): %s", job.id, job.attempt, exc.message)
            else:
                log.exception("Job %s failed (attempt %d)", job.id, job.attempt)
            error = f"{type(exc).__name__}: {exc}"
            if self.queue.retry(job, error) is JobState.DEAD:
                self._give_up(job, error)
            else:
                self.metrics.jobs.labels(kind, "retried").inc()
            return
        finally:
            self.metrics.job_seconds.labels(kind).observe(time.perf_counter() - started)
        self.metrics.jobs.labels(kind, "done").inc()
        self.queue.complete(job)
        log.info("Job %s done in %.2f s", job.id, time.perf_counter() - started)

    def _dead_letter(self, job: Job, error: str) -> None:
        if self.queue.retry(job, error) is JobState.DEAD:
            self._give_up(job, error)

    def _give_up(self, job: Job, error: str) -> None:
        self.metrics.jobs.labels(kind_label(job), "dead").inc()
        try:
            self.handlers[job_kind(job)].give_up(job, error)
            self.events.mark_jobs_finished([job_event_id(job.id)])
        except BackendError as exc:
            log.warning("Recording the failure of dead job %s failed: %s", job.id, exc.message)
        except Exception:
            log.exception("Recording the failure of dead job %s failed", job.id)

    @contextmanager
    def _heartbeat(self, job: Job) -> Iterator[None]:
        done = threading.Event()
        interval = self.settings.job_lease_seconds / 3

        def beat() -> None:
            while not done.wait(interval):
                try:
                    renewed = self.queue.heartbeat(job)
                except BackendError as exc:  # the next beat tries again, within the lease
                    self.metrics.lease_renewals.labels("failed").inc()
                    log.warning("Renewing the lease on job %s failed: %s", job.id, exc.message)
                    continue
                except Exception:
                    self.metrics.lease_renewals.labels("failed").inc()
                    log.exception("Renewing the lease on job %s failed", job.id)
                    continue
                if not renewed:
                    self.metrics.lease_renewals.labels("lost").inc()
                    log.warning("Lost the lease on job %s", job.id)
                    return
                self.metrics.lease_renewals.labels("renewed").inc()

        thread = threading.Thread(target=beat, name=f"heartbeat-{job.id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
