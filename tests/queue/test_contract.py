"""The queue contract, run on every backend: idempotent enqueue, leases and stale tokens,
backoff, dead letters, the storage epoch, and many claimers never sharing a job."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from sightline.errors import ConfigurationError
from sightline.queue import Job, JobQueue, JobState, RetryPolicy, open_queue

QueueFactory = Callable[..., JobQueue]


def claim(queue: JobQueue, worker: str = "w1") -> Job:
    job = queue.claim(worker)
    assert job is not None
    return job


def wait_until_claimable(queue: JobQueue, timeout: float = 5.0) -> Job:
    """Poll for a job that is about to become due; fail if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = queue.claim("w")
        if job is not None:
            return job
        time.sleep(0.01)
    raise AssertionError("no job became claimable")


# -- enqueue and claim -----------------------------------------------------------------------


def test_enqueue_is_idempotent_by_id(queue: JobQueue) -> None:
    assert queue.enqueue("a", {"n": 1}) is True
    assert queue.enqueue("a", {"n": 2}) is False
    job = claim(queue)
    assert job.payload == {"n": 1}
    assert queue.claim("w2") is None


def test_enqueue_is_idempotent_after_completion(queue: JobQueue) -> None:
    queue.enqueue("a", {})
    queue.complete(claim(queue))
    assert queue.enqueue("a", {}) is False
    assert queue.claim("w") is None
    assert queue.depth()[JobState.DONE] == 1


def test_enqueue_is_idempotent_while_dead(make_queue: QueueFactory) -> None:
    queue = make_queue(max_attempts=1)
    queue.enqueue("a", {})
    assert queue.retry(claim(queue), "boom") is JobState.DEAD
    assert queue.enqueue("a", {}) is False
    assert queue.claim("w") is None


def test_claim_on_an_empty_queue(queue: JobQueue) -> None:
    assert queue.claim("w") is None


def test_claim_returns_the_oldest_due_job_with_attempt_one(queue: JobQueue) -> None:
    for job_id in ("first", "second", "third"):
        queue.enqueue(job_id, {"id": job_id})
    job = claim(queue)
    assert job.id == "first"
    assert job.payload == {"id": "first"}
    assert job.attempt == 1
    assert job.lease_token
    assert job.last_error is None
    assert [claim(queue).id, claim(queue).id] == ["second", "third"]


def test_every_claim_gets_a_distinct_lease_token(queue: JobQueue) -> None:
    queue.enqueue("a", {})
    queue.enqueue("b", {})
    assert claim(queue).lease_token != claim(queue).lease_token


def test_nothing_is_claimable_while_leased(queue: JobQueue) -> None:
    queue.enqueue("a", {})
    claim(queue, "w1")
    assert queue.claim("w2") is None
    assert queue.depth()[JobState.RUNNING] == 1


def test_payload_round_trips(queue: JobQueue) -> None:
    payload = {"image_id": "img_1", "features": ["hash", "thumbnail"], "nested": {"x": 1.5}}
    queue.enqueue("a", payload)
    assert claim(queue).payload == payload


# -- leases ----------------------------------------------------------------------------------


def test_an_expired_lease_hands_the_job_out_again(make_queue: QueueFactory) -> None:
    queue = make_queue(lease_seconds=0.2)
    queue.enqueue("a", {"n": 1})
    first = claim(queue, "w1")
    time.sleep(0.3)
    second = claim(queue, "w2")
    assert second.id == "a"
    assert second.payload == {"n": 1}
    assert second.attempt == 2
    assert second.lease_token != first.lease_token


def test_a_job_held_by_an_instance_that_died_is_handed_out_after_its_lease(
    make_queue: QueueFactory,
) -> None:
    dying = make_queue(lease_seconds=0.3)
    survivor = make_queue(lease_seconds=0.3)
    dying.enqueue("a", {"n": 1})
    lost = claim(dying, "dying")
    dying.close()  # never completes, never acknowledges
    assert survivor.claim("survivor") is None
    time.sleep(0.4)
    job = claim(survivor, "survivor")
    assert (job.id, job.payload, job.attempt) == ("a", {"n": 1}, 2)
    assert survivor.heartbeat(lost) is False
    survivor.complete(job)
    assert survivor.depth()[JobState.DONE] == 1


def test_a_stale_token_can_neither_heartbeat_nor_complete(make_queue: QueueFactory) -> None:
    queue = make_queue(lease_seconds=0.2)
    queue.enqueue("a", {})
    stale = claim(queue, "w1")
    time.sleep(0.3)
    current = claim(queue, "w2")

    assert queue.heartbeat(stale) is False
    queue.complete(stale)
    assert queue.depth()[JobState.DONE] == 0
    assert queue.depth()[JobState.RUNNING] == 1
    # The new holder still holds the lease and its outcome counts.
    assert queue.heartbeat(current) is True
    queue.complete(current)
    assert queue.depth()[JobState.DONE] == 1


def test_a_stale_token_cannot_retry(make_queue: QueueFactory) -> None:
    queue = make_queue(lease_seconds=0.2, base_seconds=0.01)
    queue.enqueue("a", {})
    stale = claim(queue, "w1")
    time.sleep(0.3)
    current = claim(queue, "w2")

    queue.retry(stale, "stale error")
    assert queue.depth()[JobState.RUNNING] == 1
    assert queue.depth()[JobState.QUEUED] == 0
    assert queue.heartbeat(current) is True
    queue.complete(current)
    assert queue.depth()[JobState.DONE] == 1


def test_a_stale_retry_on_the_last_attempt_does_not_report_dead(
    make_queue: QueueFactory,
) -> None:
    # The worker pool dead-letters the image (marks its features failed) when retry says DEAD;
    # a worker that lost its lease must not be told so while another worker runs the job.
    queue = make_queue(lease_seconds=0.2, max_attempts=1)
    queue.enqueue("a", {})
    stale = claim(queue, "w1")
    time.sleep(0.3)
    current = claim(queue, "w2")

    assert queue.retry(stale, "lost") is not JobState.DEAD
    assert queue.dead_letters() == []
    assert queue.heartbeat(current) is True


def test_heartbeat_extends_the_lease(make_queue: QueueFactory) -> None:
    queue = make_queue(lease_seconds=0.5)
    queue.enqueue("a", {})
    job = claim(queue)
    time.sleep(0.35)
    assert queue.heartbeat(job) is True
    time.sleep(0.35)
    # Past the original expiry, inside the extended one.
    assert queue.claim("w2") is None
    assert queue.heartbeat(job) is True


def test_heartbeat_after_completion_is_false(queue: JobQueue) -> None:
    queue.enqueue("a", {})
    job = claim(queue)
    queue.complete(job)
    assert queue.heartbeat(job) is False


# -- retries and dead letters ----------------------------------------------------------------


def test_retry_schedules_with_backoff_and_keeps_the_error(make_queue: QueueFactory) -> None:
    queue = make_queue(base_seconds=0.2)
    queue.enqueue("a", {})
    job = claim(queue)
    assert queue.retry(job, "ValueError: boom") is JobState.QUEUED
    assert queue.depth()[JobState.QUEUED] == 1
    # The delay for attempt 1 is at least half of base_seconds: not due right away.
    assert queue.claim("w") is None
    time.sleep(0.25)
    again = claim(queue)
    assert again.id == "a"
    assert again.attempt == 2
    assert again.last_error == "ValueError: boom"


def test_a_job_waiting_for_backoff_does_not_block_others(make_queue: QueueFactory) -> None:
    queue = make_queue(base_seconds=10.0)
    queue.enqueue("a", {})
    queue.retry(claim(queue), "boom")
    queue.enqueue("b", {})
    assert claim(queue).id == "b"
    assert queue.claim("w") is None


def test_after_the_last_attempt_retry_dead_letters(make_queue: QueueFactory) -> None:
    queue = make_queue(max_attempts=2, base_seconds=0.01)
    queue.enqueue("a", {"image_id": "img"})
    assert queue.retry(claim(queue), "first failure") is JobState.QUEUED
    second = wait_until_claimable(queue)
    assert second.attempt == 2
    assert queue.retry(second, "second failure") is JobState.DEAD

    assert queue.claim("w") is None
    [dead] = queue.dead_letters()
    assert dead.id == "a"
    assert dead.payload == {"image_id": "img"}
    assert dead.attempts == 2
    assert dead.last_error == "second failure"
    assert queue.depth()[JobState.DEAD] == 1


def test_dead_letters_respects_the_limit(make_queue: QueueFactory) -> None:
    queue = make_queue(max_attempts=1)
    for job_id in ("a", "b", "c"):
        queue.enqueue(job_id, {})
        queue.retry(claim(queue), f"{job_id} failed")
    assert len(queue.dead_letters()) == 3
    assert len(queue.dead_letters(limit=2)) == 2


def test_requeue_gives_a_dead_job_fresh_attempts(make_queue: QueueFactory) -> None:
    queue = make_queue(max_attempts=1)
    queue.enqueue("a", {"n": 1})
    assert queue.retry(claim(queue), "boom") is JobState.DEAD

    assert queue.requeue("a") is True
    assert queue.dead_letters() == []
    job = claim(queue)
    assert job.id == "a"
    assert job.payload == {"n": 1}
    assert job.attempt == 1


def test_requeue_only_applies_to_dead_jobs(queue: JobQueue) -> None:
    assert queue.requeue("nope") is False
    queue.enqueue("a", {})
    assert queue.requeue("a") is False
    job = claim(queue)
    assert queue.requeue("a") is False
    queue.complete(job)
    assert queue.requeue("a") is False


def test_depth_counts_every_state(make_queue: QueueFactory) -> None:
    queue = make_queue(max_attempts=1)
    assert queue.depth() == dict.fromkeys(JobState, 0)
    for job_id in ("done", "dead", "running", "queued1", "queued2"):
        queue.enqueue(job_id, {})
    queue.complete(claim(queue))
    queue.retry(claim(queue), "boom")
    claim(queue)
    assert queue.depth() == {
        JobState.QUEUED: 2,
        JobState.RUNNING: 1,
        JobState.DONE: 1,
        JobState.DEAD: 1,
    }


def test_states_names_each_held_job_and_leaves_out_the_others(
    make_queue: QueueFactory, lose_data: Callable[[], None]
) -> None:
    queue = make_queue(max_attempts=1)
    for job_id in ("done", "dead", "running", "queued"):
        queue.enqueue(job_id, {})
    queue.complete(claim(queue))
    queue.retry(claim(queue), "boom")
    claim(queue)
    ids = ["done", "dead", "running", "queued", "never"]
    assert queue.states(ids) == {
        "done": JobState.DONE,
        "dead": JobState.DEAD,
        "running": JobState.RUNNING,
        "queued": JobState.QUEUED,
    }
    assert queue.states([]) == {}
    assert queue.states([f"job{n}" for n in range(1200)]) == {}  # more than one batch
    lose_data()
    assert make_queue().states(ids) == {}


# -- the storage epoch -----------------------------------------------------------------------


def test_the_epoch_is_stable_and_shared_by_every_instance(make_queue: QueueFactory) -> None:
    first = make_queue()
    epoch = first.epoch()
    assert epoch
    first.enqueue("a", {})
    first.complete(claim(first))
    assert first.epoch() == epoch
    assert make_queue().epoch() == epoch


def test_the_epoch_changes_when_the_data_is_lost(
    make_queue: QueueFactory, lose_data: Callable[[], None]
) -> None:
    before = make_queue()
    before.enqueue("a", {})
    epoch = before.epoch()
    before.close()
    lose_data()

    first, second = make_queue(), make_queue()
    assert first.epoch() != epoch
    assert second.epoch() == first.epoch()
    # The storage is usable again, and the lost job can be enqueued anew.
    assert first.depth() == dict.fromkeys(JobState, 0)
    assert second.enqueue("a", {"n": 2}) is True
    assert claim(first).payload == {"n": 2}


# -- concurrency -----------------------------------------------------------------------------


def drain_concurrently(queues: list[JobQueue], threads_per_queue: int) -> list[str]:
    """Threads claim and complete until the queue is empty; returns every claimed id."""
    claimed: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(len(queues) * threads_per_queue)

    def work(queue: JobQueue, name: str) -> None:
        try:
            start.wait()
            while True:
                job = queue.claim(name)
                if job is None:
                    return
                with lock:
                    claimed.append(job.id)
                queue.complete(job)
        except BaseException as exc:  # reported by the test below, not swallowed
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(queue, f"q{q}-t{t}"))
        for q, queue in enumerate(queues)
        for t in range(threads_per_queue)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return claimed


def test_concurrent_claims_never_hand_out_a_job_twice(queue: JobQueue) -> None:
    ids = [f"job-{n:02d}" for n in range(50)]
    for job_id in ids:
        queue.enqueue(job_id, {})
    claimed = drain_concurrently([queue], threads_per_queue=4)
    duplicates = [job_id for job_id, count in Counter(claimed).items() if count > 1]
    assert duplicates == []
    assert sorted(claimed) == ids
    assert queue.depth()[JobState.DONE] == 50


def test_two_queue_instances_never_hand_out_a_job_twice(make_queue: QueueFactory) -> None:
    # Two instances, two connection pools (and for SQLite two process-local write locks):
    # like two worker processes, each with 8 threads.
    first = make_queue()
    second = make_queue()
    ids = [f"job-{n:03d}" for n in range(500)]
    for job_id in ids:
        first.enqueue(job_id, {})
    assert second.enqueue("job-000", {}) is False
    claimed = drain_concurrently([first, second], threads_per_queue=8)
    duplicates = [job_id for job_id, count in Counter(claimed).items() if count > 1]
    assert duplicates == []
    assert sorted(claimed) == ids
    assert second.depth()[JobState.DONE] == 500


def test_unknown_queue_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        open_queue("amqp://localhost/", lease_seconds=1, retry=RetryPolicy())
