"""SQLiteQueue specifics; the behaviour every queue shares is in test_contract.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import MetaData, create_engine, insert

from sightline.queue import JobQueue, JobState
from sightline.queue.sqlite import jobs

QueueFactory = Callable[..., JobQueue]

pytestmark = pytest.mark.parametrize("queue_backend", ["sqlite"], indirect=True)


def test_the_epoch_survives_reopening_the_file(make_queue: QueueFactory) -> None:
    first = make_queue()
    epoch = first.epoch()
    first.close()
    assert make_queue().epoch() == epoch


def test_a_queue_file_from_before_the_epoch_gains_one_and_keeps_its_jobs(
    make_queue: QueueFactory, queue_url: str
) -> None:
    # A queue.db written by an older version: the jobs table alone, with a job waiting.
    engine = create_engine(queue_url)
    old_schema = MetaData()
    jobs.to_metadata(old_schema)
    with engine.begin() as conn:
        old_schema.create_all(conn)
        conn.execute(
            insert(jobs).values(
                id="a", payload={"n": 1}, state="queued", attempts=0, available_at=0, updated_at=0
            )
        )
    engine.dispose()

    queue = make_queue()
    assert queue.epoch()
    job = queue.claim("w")
    assert job is not None
    assert (job.id, job.payload) == ("a", {"n": 1})
    assert queue.depth()[JobState.RUNNING] == 1
