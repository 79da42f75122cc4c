"""The subscription store's fan-out and claims, on SQLite and PostgreSQL: several processes
fanning out at once make each delivery exactly once, leases keep senders apart and come back
when their holder is gone, and a subject's later events wait for its earlier ones."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sightline.events import EventType, cloud_event
from sightline.stores import open_stores
from sightline.webhooks.filters import matches
from sightline.webhooks.store import Attempted, AttemptRecord, DeliveryStatus, DeliveryUpdate
from webhooks.conftest import Harness, answered_200
from webhooks.receiver import Receiver


def test_concurrent_fan_outs_make_each_delivery_exactly_once(
    harness: Harness, receiver: Receiver
) -> None:
    subscriptions = [harness.subscribe(receiver) for _ in range(2)]
    catalogs = [open_stores(harness.url) for _ in range(3)]
    written = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        for start in range(0, 300, 10):
            harness.catalog.events.record_events(
                [
                    cloud_event(EventType.IMAGE_ANALYZED, f"img_{n}", {"id": f"img_{n}"})
                    for n in range(start, start + 10)
                ]
            )
        written.set()

    def fan_out(index: int) -> None:
        store = catalogs[index].subscriptions
        try:
            while True:
                finished = written.is_set()
                if not store.fan_out(matches, 7) and finished:
                    return  # every event written was there to see, and all were seen
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)]
    threads += [threading.Thread(target=fan_out, args=(index,)) for index in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for catalog in catalogs:
            catalog.close()
    assert errors == []
    events = {event.seq for event in harness.catalog.events.events_after(0, 1000)}
    for subscription in subscriptions:
        found = harness.deliveries(subscription)
        assert sorted(d.event_seq for d in found) == sorted(events)


def test_events_from_before_any_subscription_are_skipped_not_read(
    harness: Harness, receiver: Receiver
) -> None:
    store = harness.catalog.subscriptions
    for _ in range(5):
        harness.emit()
    assert store.fan_out(matches, 100) == 0  # no subscription: nothing to do
    subscription = harness.subscribe(receiver)
    assert store.fan_out(matches, 100) == 0
    harness.emit()
    assert store.fan_out(matches, 100) == 1
    assert len(harness.deliveries(subscription)) == 1


def attempt(subscription_id: str, delivery_id: str) -> AttemptRecord:
    return AttemptRecord(
        subscription_id, datetime.now(UTC), 1, [delivery_id], 500, 1.0, "HTTP 500", "retrying"
    )


def test_leases_keep_senders_apart_until_they_run_out(harness: Harness, receiver: Receiver) -> None:
    subscription = harness.subscribe(receiver)
    harness.emit("img_a")
    harness.emit("img_b")
    store = harness.catalog.subscriptions
    store.fan_out(matches, 100)
    now = datetime.now(UTC)
    [first] = store.claim(now, now + timedelta(seconds=30), exclude=(), most=5)
    assert [d.subject for d in first.deliveries] == ["images/img_a"]
    [second] = store.claim(now, now + timedelta(seconds=30), exclude=(), most=5)
    assert [d.subject for d in second.deliveries] == ["images/img_b"]
    assert store.claim(now, now + timedelta(seconds=30), exclude=(), most=5) == []
    # The first sender is gone: once its lease runs out, another takes its delivery.
    later = now + timedelta(seconds=31)
    [again] = store.claim(later, later + timedelta(seconds=30), exclude=(), most=5)
    assert again.deliveries[0].id == first.deliveries[0].id
    # The lost sender's late report no longer counts: the new lease holds the delivery.
    delivery_id = first.deliveries[0].id
    done = DeliveryUpdate(delivery_id, DeliveryStatus.DELIVERED, later)
    store.record([Attempted(first, attempt(subscription.id, delivery_id), [done])])
    held = store.delivery(subscription.id, delivery_id)
    assert held is not None and held.status is DeliveryStatus.PENDING
    store.record([Attempted(again, attempt(subscription.id, delivery_id), [done])])
    delivered = store.delivery(subscription.id, delivery_id)
    assert delivered is not None and delivered.status is DeliveryStatus.DELIVERED
    assert len(store.attempts(subscription.id)) == 2  # both requests were made: both logged


def test_a_subjects_later_events_wait_for_its_earlier_ones(
    harness: Harness, receiver: Receiver
) -> None:
    subscription = harness.subscribe(receiver, max_events_per_batch=10)
    harness.emit("img_a")
    harness.emit("img_a")
    harness.emit("img_b")
    store = harness.catalog.subscriptions
    store.fan_out(matches, 100)
    now = datetime.now(UTC)
    [claim] = store.claim(now, now + timedelta(seconds=30), exclude=(), most=1)
    assert [d.subject for d in claim.deliveries] == ["images/img_a", "images/img_b"]
    head = claim.deliveries[0]
    retry_at = now + timedelta(minutes=5)
    updates = [
        DeliveryUpdate(head.id, DeliveryStatus.PENDING, retry_at),
        DeliveryUpdate(claim.deliveries[1].id, DeliveryStatus.DELIVERED, now),
    ]
    [following] = store.record(
        [Attempted(claim, attempt(subscription.id, head.id), updates, claim_next=True)],
        next_lease=timedelta(seconds=30),
    )
    assert following is None  # img_a's second event waits for its first
    waiting = [d for d in harness.deliveries(subscription) if d.status is DeliveryStatus.PENDING]
    assert {d.next_attempt_at for d in waiting} == {retry_at}
    assert store.claim(now + timedelta(minutes=4), now, exclude=(), most=1) == []
    later = now + timedelta(minutes=6)
    [retried] = store.claim(later, later + timedelta(seconds=30), exclude=(), most=1)
    assert [d.id for d in retried.deliveries] == [head.id]


def test_outcomes_of_a_subscription_deleted_meanwhile_do_not_sink_the_others(
    harness: Harness, receiver: Receiver
) -> None:
    doomed = harness.subscribe(receiver)
    healthy = harness.subscribe(receiver)
    harness.emit()
    store = harness.catalog.subscriptions
    store.fan_out(matches, 100)
    now = datetime.now(UTC)
    claims = store.claim(now, now + timedelta(seconds=60), exclude=(), most=10)
    assert {claim.subscription.id for claim in claims} == {doomed.id, healthy.id}
    store.delete(doomed.id)  # while its request was out
    harness.emit("img_next")
    store.fan_out(matches, 100)
    attempts = [answered_200(claim, now, claim_next=True) for claim in claims]
    next_claims = store.record(attempts, next_lease=timedelta(seconds=60))
    following = dict(zip([claim.subscription.id for claim in claims], next_claims, strict=True))
    assert following[doomed.id] is None
    next_claim = following[healthy.id]
    assert next_claim is not None  # the healthy one's next event, claimed in the same go
    assert [d.subject for d in next_claim.deliveries] == ["images/img_next"]
    assert [d.status for d in harness.deliveries(healthy)] == [
        DeliveryStatus.PENDING,
        DeliveryStatus.DELIVERED,
    ]
    assert [a.status_code for a in store.attempts(healthy.id)] == [200]
    assert store.attempts(doomed.id) == []


def test_a_subscription_for_a_collection_gets_and_is_found_by_that_collection_only(
    harness: Harness, receiver: Receiver
) -> None:
    alpha = harness.subscribe(receiver, collection="alpha")
    everything = harness.subscribe(receiver)
    for n, collection in enumerate(["alpha", "beta", "alpha", None]):
        image_id = f"img_{n}"
        harness.catalog.events.record_events(
            [
                cloud_event(
                    EventType.IMAGE_CREATED, image_id, {"id": image_id}, collection=collection
                )
            ]
        )
    while harness.catalog.subscriptions.fan_out(matches, 100):
        pass

    assert sorted(d.subject for d in harness.deliveries(alpha)) == ["images/img_0", "images/img_2"]
    assert len(harness.deliveries(everything)) == 4
    store = harness.catalog.subscriptions
    assert [s.id for s in store.list_subscriptions("alpha")] == [alpha.id]
    assert store.list_subscriptions("beta") == []
    assert {s.id for s in store.list_subscriptions()} == {alpha.id, everything.id}
    found = store.get(alpha.id, "alpha")
    assert found is not None and found.collection == "alpha"
    assert store.get(alpha.id, "beta") is None
    assert store.get(everything.id, "alpha") is None  # it gets beta's events too
