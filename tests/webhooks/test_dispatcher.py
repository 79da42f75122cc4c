"""The delivery engine against real receivers on loopback, on SQLite and on PostgreSQL: what is
sent and signed, retries, dead letters, TTL, ordering per image, batches, pause, redelivery,
several engines sharing one catalog, and a dead endpoint next to a healthy one."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sightline.errors import BackendError
from sightline.events import EventType
from sightline.webhooks import Dispatcher, verify_signature
from sightline.webhooks.dispatcher import parse_retry_after, retry_delay
from sightline.webhooks.filters import matches
from sightline.webhooks.store import (
    Attempted,
    Claim,
    DeliveryEngineStore,
    DeliveryStatus,
)
from webhooks.conftest import ORIGIN, Harness, answered_200, eventually
from webhooks.receiver import Received, Receiver, Reply


def test_an_event_is_posted_as_a_signed_structured_cloudevent(
    harness: Harness, receiver: Receiver
) -> None:
    subscription = harness.subscribe(receiver, secret="s" * 16 + "-a-long-secret")
    assert receiver.handshakes[0].headers["webhook-request-origin"] == ORIGIN
    harness.start()
    sent = harness.emit(filename="a.jpg")
    receiver.wait(lambda r: len(r.delivered()) == 1)

    request = receiver.requests[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert request.json() == sent
    # An independent check of the signature: HMAC-SHA256 over "t." + body.
    fields = dict(part.split("=", 1) for part in request.headers["sightline-signature"].split(","))
    expected = hmac.new(
        subscription.secret.encode(), f"{fields['t']}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert abs(int(fields["t"]) - time.time()) < 60
    assert verify_signature(
        subscription.secret, request.headers["sightline-signature"], request.body
    )
    assert not verify_signature(
        "another-secret-entirely", request.headers["sightline-signature"], request.body
    )

    eventually(harness.settled(subscription, 1))
    [delivery] = harness.deliveries(subscription)
    assert request.headers["sightline-delivery-id"] == delivery.id
    assert request.headers["sightline-attempt"] == "1"
    assert delivery.status is DeliveryStatus.DELIVERED
    assert (delivery.event_id, delivery.event_type) == (sent["id"], sent["type"])
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200
    assert delivery.delivered_at is not None
    [attempt] = harness.catalog.subscriptions.attempts(subscription.id)
    assert attempt.delivery_ids == [delivery.id]
    assert (attempt.attempt, attempt.status_code, attempt.outcome) == (1, 200, "delivered")
    assert attempt.latency_ms is not None and attempt.latency_ms >= 0


def test_only_events_after_the_subscription_was_made_are_delivered(
    harness: Harness, receiver: Receiver
) -> None:
    harness.emit("img_before")
    harness.start()
    subscription = harness.subscribe(receiver)
    harness.emit("img_after")
    eventually(harness.settled(subscription, 1))
    time.sleep(0.2)  # give a wrongly delivered older event the time to show up
    assert [event["data"]["id"] for event in receiver.delivered()] == ["img_after"]


def test_server_errors_are_retried_until_delivered(harness: Harness) -> None:
    with Receiver(lambda request: 500 if request.number <= 2 else 200) as receiver:
        subscription = harness.subscribe(receiver)
        harness.start()
        harness.emit()
        eventually(harness.settled(subscription, 1))
    assert [request.headers["sightline-attempt"] for request in receiver.requests] == [
        "1",
        "2",
        "3",
    ]
    assert len({request.headers["sightline-delivery-id"] for request in receiver.requests}) == 1
    [delivery] = harness.deliveries(subscription)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.DELIVERED,
        3,
        200,
    )
    log = harness.catalog.subscriptions.attempts(subscription.id)
    assert [(a.attempt, a.status_code, a.outcome) for a in reversed(log)] == [
        (1, 500, "retrying"),
        (2, 500, "retrying"),
        (3, 200, "delivered"),
    ]
    assert log[-1].error == "HTTP 500"


def test_a_receiver_answering_too_late_is_retried(harness: Harness) -> None:
    def respond(request: Received) -> Reply:
        return Reply(200, delay=1.5) if request.number == 1 else Reply(200)

    with Receiver(respond) as receiver:
        subscription = harness.subscribe(receiver)
        harness.start(webhook_timeout_seconds=0.5)
        harness.emit()
        eventually(harness.settled(subscription, 1))
    first, *_, last = reversed(harness.catalog.subscriptions.attempts(subscription.id))
    assert first.status_code is None
    assert first.error == "No answer within 0.5 s."
    assert first.outcome == "retrying"
    assert (last.status_code, last.outcome) == (200, "delivered")


def test_a_rejecting_answer_dead_letters_at_once(harness: Harness) -> None:
    with Receiver(lambda _request: Reply(400, body=b"unknown schema")) as receiver:
        subscription = harness.subscribe(receiver)
        harness.start()
        harness.emit()
        eventually(harness.settled(subscription, 1))
    assert len(receiver.requests) == 1
    [delivery] = harness.deliveries(subscription)
    assert delivery.status is DeliveryStatus.DEAD_LETTERED
    assert delivery.dead_letter_reason == "rejected"
    assert (delivery.attempts, delivery.last_status_code) == (1, 400)
    assert delivery.last_error == "HTTP 400: unknown schema"
    [attempt] = harness.catalog.subscriptions.attempts(subscription.id)
    assert attempt.outcome == "dead_lettered"


def test_attempts_stop_at_max_attempts(harness: Harness) -> None:
    with Receiver(lambda _request: 503) as receiver:
        subscription = harness.subscribe(receiver, max_attempts=3)
        harness.start()
        harness.emit()
        eventually(harness.settled(subscription, 1))
    assert len(receiver.requests) == 3
    [delivery] = harness.deliveries(subscription)
    assert (delivery.status, delivery.dead_letter_reason, delivery.attempts) == (
        DeliveryStatus.DEAD_LETTERED,
        "max_attempts",
        3,
    )
    assert delivery.last_status_code == 503


def test_retry_after_is_honoured(harness: Harness) -> None:
    with Receiver(lambda _request: Reply(429, {"Retry-After": "3600"})) as receiver:
        subscription = harness.subscribe(receiver)
        harness.start()
        harness.emit()
        eventually(lambda: [d.attempts for d in harness.deliveries(subscription)] == [1])
    [delivery] = harness.deliveries(subscription)
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.next_attempt_at > datetime.now(UTC) + timedelta(minutes=55)


def test_retry_after_never_shortens_the_schedule() -> None:
    rng = random.Random(6)
    for retry_after in (None, 0.0, 3.0):
        assert 8.0 <= retry_delay([10.0], 1, retry_after, rng) <= 12.0
    assert retry_delay([10.0], 1, 120.0, rng) == 120.0
    assert retry_delay([10.0], 1, 10**9, rng) == 3600.0  # an hour at most
    assert 4320.0 * 0.8 <= retry_delay([4320.0], 1, 60.0, rng)  # nor does the cap shorten it


def test_retry_after_zero_does_not_burn_the_attempts(harness: Harness) -> None:
    with Receiver(lambda _request: Reply(429, {"Retry-After": "0"})) as receiver:
        subscription = harness.subscribe(receiver)
        harness.start(webhook_retry_delays="10")
        harness.emit()
        eventually(lambda: [d.attempts for d in harness.deliveries(subscription)] == [1])
    [delivery] = harness.deliveries(subscription)
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.last_attempt_at is not None
    # 10 s less 20 % jitter: the header may only lengthen the wait.
    assert delivery.next_attempt_at - delivery.last_attempt_at >= timedelta(seconds=7.9)
    assert len(receiver.requests) == 1


def test_parse_retry_after_takes_ascii_seconds_or_a_date() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", now) == 60.0
    assert parse_retry_after("Tue, 31 Dec 2024 00:00:00 GMT", now) == 0.0
    for bad in ("\u00b2", "\u0661\u0662", "soon", "", None):
        assert parse_retry_after(bad, now) is None


def test_undelivered_events_expire_after_their_ttl(harness: Harness, receiver: Receiver) -> None:
    # Paused subscriptions keep collecting, and the TTL keeps running. The API takes a minute
    # at least; the store is told a shorter one directly.
    subscription = harness.subscribe(receiver, paused=True)
    harness.catalog.subscriptions.update(subscription.id, event_ttl_minutes=0.01)
    harness.start()
    harness.emit()
    eventually(harness.settled(subscription, 1))
    [delivery] = harness.deliveries(subscription)
    assert (delivery.status, delivery.dead_letter_reason, delivery.attempts) == (
        DeliveryStatus.DEAD_LETTERED,
        "ttl_expired",
        0,
    )
    assert receiver.requests == []


def test_a_retry_that_would_come_after_the_ttl_dead_letters(harness: Harness) -> None:
    with Receiver(lambda _request: 500) as receiver:
        subscription = harness.subscribe(receiver, event_ttl_minutes=1)
        harness.start(webhook_retry_delays="120")
        harness.emit()
        eventually(harness.settled(subscription, 1))
    [delivery] = harness.deliveries(subscription)
    assert (delivery.dead_letter_reason, delivery.attempts) == ("ttl_expired", 1)
    assert len(receiver.requests) == 1


def test_events_of_one_image_arrive_in_order_despite_retries(harness: Harness) -> None:
    failures = random.Random(6)
    lock = threading.Lock()

    def respond(_request: Received) -> int:
        with lock:
            return 500 if failures.random() < 0.4 else 200

    with Receiver(respond) as receiver:
        subscription = harness.subscribe(receiver)
        harness.start()
        for step in range(6):
            for image_id in ("img_a", "img_b", "img_c"):
                harness.emit(image_id, EventType.IMAGE_REPROCESS_REQUESTED, step=step)
        eventually(harness.settled(subscription, 18))
    attempted: dict[str, list[int]] = defaultdict(list)
    for request in receiver.requests:
        event = request.json()
        attempted[event["subject"]].append(event["data"]["step"])
    for subject, steps in attempted.items():
        # Each event is tried (perhaps several times) before the next one is tried at all.
        assert steps == sorted(steps), subject
        assert sorted(set(steps)) == list(range(6))
    delivered: dict[str, list[int]] = defaultdict(list)
    for event in receiver.delivered():
        delivered[event["subject"]].append(event["data"]["step"])
    assert all(steps == list(range(6)) for steps in delivered.values())
    assert harness.counts(subscription)["delivered"] == 18


def test_a_batch_carries_several_events_as_a_json_array(
    harness: Harness, receiver: Receiver
) -> None:
    subscription = harness.subscribe(receiver, max_events_per_batch=10, paused=True)
    harness.start()
    sent = [harness.emit() for _ in range(5)]
    eventually(lambda: harness.counts(subscription)["pending"] == 5)
    harness.service.update(subscription.id, collection=None, paused=False)
    eventually(harness.settled(subscription, 5))
    [request] = receiver.requests
    assert request.headers["content-type"] == "application/cloudevents-batch+json; charset=utf-8"
    assert request.json() == sent
    assert len(request.headers["sightline-delivery-id"].split(",")) == 5
    assert verify_signature(
        subscription.secret, request.headers["sightline-signature"], request.body
    )
    [attempt] = harness.catalog.subscriptions.attempts(subscription.id)
    assert len(attempt.delivery_ids) == 5


def test_filters_on_type_subject_and_data(harness: Harness) -> None:
    with Receiver() as every, Receiver() as jpegs, Receiver() as analyzed, Receiver() as subject:
        harness.subscribe(every)
        picky = harness.subscribe(
            jpegs,
            data_filters=[
                {"key": "data.filename", "operator": "ends_with", "values": [".jpg", ".jpeg"]},
                {"key": "data.metadata.collection", "operator": "in", "values": ["Summer"]},
            ],
        )
        harness.subscribe(analyzed, event_types=["sightline.image.analyzed"])
        harness.subscribe(subject, subject_begins_with="IMAGES/img_b")
        harness.start()
        harness.emit("img_a", filename="a.JPG", metadata={"collection": "summer"})
        harness.emit("img_b", filename="b.png", metadata={"collection": "summer"})
        harness.emit("img_c", filename="c.jpeg", metadata={"collection": "winter"})
        harness.emit("img_d", filename="d.jpeg", metadata={})
        harness.emit("img_b", EventType.IMAGE_ANALYZED, filename="b.png", metadata={})
        every.wait(lambda r: len(r.delivered()) == 5)
        eventually(harness.settled(picky, 1))

        def ids(receiver: Receiver) -> list[str]:
            return [event["data"]["id"] for event in receiver.delivered()]

        assert ids(jpegs) == ["img_a"]
        analyzed.wait(lambda r: len(r.delivered()) == 1)
        assert ids(analyzed) == ["img_b"]
        subject.wait(lambda r: len(r.delivered()) == 2)
        assert ids(subject) == ["img_b", "img_b"]


def test_a_paused_subscription_collects_and_sends_once_resumed(
    harness: Harness, receiver: Receiver
) -> None:
    subscription = harness.subscribe(receiver)
    harness.start()
    harness.service.update(subscription.id, collection=None, paused=True)
    harness.emit()
    harness.emit()
    eventually(lambda: harness.counts(subscription)["pending"] == 2)
    time.sleep(0.2)
    assert receiver.requests == []
    harness.service.update(subscription.id, collection=None, paused=False)
    eventually(harness.settled(subscription, 2))
    assert len(receiver.delivered()) == 2


def test_dead_letters_are_redelivered_one_or_all(harness: Harness) -> None:
    accepting = threading.Event()
    with Receiver(lambda _request: 200 if accepting.is_set() else 410) as receiver:
        subscription = harness.subscribe(receiver)
        harness.start()
        for _ in range(3):
            harness.emit()
        eventually(lambda: harness.counts(subscription)["dead_lettered"] == 3)
        accepting.set()
        first = harness.deliveries(subscription)[-1]
        redelivered = harness.service.redeliver(subscription.id, first.id, collection=None)
        assert (redelivered.status, redelivered.attempts) == (DeliveryStatus.PENDING, 0)
        assert redelivered.expires_at > datetime.now(UTC) + timedelta(hours=23)
        eventually(lambda: harness.counts(subscription)["delivered"] == 1)
        assert harness.service.redeliver_all(subscription.id, collection=None) == 2
        eventually(harness.settled(subscription, 3))
    assert harness.counts(subscription)["delivered"] == 3
    assert len(receiver.delivered()) == 3
    for delivery in harness.deliveries(subscription):
        assert delivery.attempts == 1  # counted afresh
        assert delivery.dead_letter_reason is None


def test_deleting_a_subscription_stops_and_removes_its_deliveries(
    harness: Harness, receiver: Receiver
) -> None:
    subscription = harness.subscribe(receiver, paused=True)
    harness.start()
    harness.emit()
    eventually(lambda: harness.counts(subscription)["pending"] == 1)
    harness.service.delete(subscription.id, collection=None)
    assert harness.catalog.subscriptions.get(subscription.id) is None
    assert harness.catalog.subscriptions.deliveries(subscription.id) == []
    harness.emit()
    time.sleep(0.2)
    assert receiver.requests == []


def test_deleting_a_subscription_mid_request_spares_the_others(harness: Harness) -> None:
    # Both requests are held until the first subscription is gone: their outcomes come back
    # together, and the deleted one's must not sink the other's (sent again after its lease).
    gate = threading.Event()

    def hold(_request: Received) -> Reply:
        return Reply(200, gate=gate)

    with Receiver(hold) as doomed_receiver, Receiver(hold) as healthy_receiver:
        doomed = harness.subscribe(doomed_receiver)
        healthy = harness.subscribe(healthy_receiver)
        harness.start(webhook_timeout_seconds=3)
        harness.emit()
        doomed_receiver.wait(lambda r: len(r.requests) == 1)
        healthy_receiver.wait(lambda r: len(r.requests) == 1)
        harness.service.delete(doomed.id, collection=None)
        gate.set()
        # Well within the 36 s lease a lost outcome would wait for.
        eventually(lambda: harness.counts(healthy)["delivered"] == 1, timeout=10)
        assert [a.status_code for a in harness.catalog.subscriptions.attempts(healthy.id)] == [200]
    assert len(healthy_receiver.requests) == 1
    assert harness.catalog.subscriptions.get(doomed.id) is None
    assert harness.catalog.subscriptions.attempts(doomed.id) == []


def test_an_outcome_that_cannot_be_recorded_does_not_sink_the_others(
    harness: Harness, receiver: Receiver
) -> None:
    """The recorder writes outcomes together; when that fails it writes them one by one."""
    poisoned = harness.subscribe(receiver)
    healthy = harness.subscribe(receiver)
    harness.emit()
    store = harness.catalog.subscriptions
    store.fan_out(matches, 100)
    now = datetime.now(UTC)
    claims = store.claim(now, now + timedelta(seconds=60), exclude=(), most=10)
    assert {claim.subscription.id for claim in claims} == {poisoned.id, healthy.id}
    attempts = [answered_200(claim, now) for claim in claims]

    class Failing:
        """The store, refusing to record anything about the poisoned subscription."""

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def record(self, attempted: Sequence[Attempted], **kwargs: Any) -> list[Claim | None]:
            if any(a.claim.subscription.id == poisoned.id for a in attempted):
                raise BackendError("refused")
            return store.record(attempted, **kwargs)

    dispatcher = Dispatcher(harness.settings(), cast(DeliveryEngineStore, Failing()))

    async def record() -> list[Claim | None]:
        with ThreadPoolExecutor(1) as executor:
            return await dispatcher._record_all(executor, attempts)

    assert asyncio.run(record()) == [None, None]
    assert harness.counts(healthy)["delivered"] == 1
    assert harness.counts(poisoned)["pending"] == 1  # its lease runs out; it is sent again


def test_two_engines_sharing_a_catalog_deliver_each_event_once(harness: Harness) -> None:
    with Receiver(lambda _request: Reply(200, delay=0.01)) as receiver:
        subscriptions = [harness.subscribe(receiver) for _ in range(2)]
        harness.start(own_catalog=True)
        harness.start(own_catalog=True)
        sent = [harness.emit() for _ in range(30)]
        for subscription in subscriptions:
            eventually(harness.settled(subscription, 30))
    received = Counter(event["id"] for event in receiver.delivered())
    assert received == Counter({event["id"]: 2 for event in sent})  # once per subscription
    assert len(receiver.requests) == 60


def test_a_hanging_endpoint_delays_only_its_own_subscription(harness: Harness) -> None:
    gate = threading.Event()
    with Receiver(lambda _request: Reply(200, gate=gate)) as hanging, Receiver() as healthy:
        stuck = harness.subscribe(hanging)
        fine = harness.subscribe(healthy)
        harness.start(webhook_timeout_seconds=60)
        for _ in range(20):
            harness.emit()
        eventually(harness.settled(fine, 20))
        # Everything reached the healthy endpoint while the other's first request hangs.
        assert len(healthy.delivered()) == 20
        assert len(hanging.requests) == 1
        gate.set()
        eventually(harness.settled(stuck, 20))
    assert len(hanging.delivered()) == 20


def test_addresses_are_checked_again_at_every_connection(
    harness: Harness, receiver: Receiver
) -> None:
    # Allowed when made, not any more when sent: as if the name now pointed elsewhere.
    subscription = harness.subscribe(receiver)
    harness.start(webhook_allowed_networks="")
    harness.emit()
    eventually(lambda: bool(harness.catalog.subscriptions.attempts(subscription.id)))
    attempt = harness.catalog.subscriptions.attempts(subscription.id)[-1]
    assert attempt.status_code is None
    assert attempt.error is not None and "not a public address" in attempt.error
    assert receiver.requests == []


def test_pruning_removes_old_log_entries_and_delivered_deliveries(
    harness: Harness, receiver: Receiver
) -> None:
    subscription = harness.subscribe(receiver)
    harness.start()
    harness.emit()
    eventually(harness.settled(subscription, 1))
    store = harness.catalog.subscriptions
    assert store.prune(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert store.prune(datetime.now(UTC) + timedelta(seconds=1)) == 2  # one attempt, one delivery
    assert store.attempts(subscription.id) == []
    assert harness.deliveries(subscription) == []


def test_deliveries_go_with_their_events(harness: Harness, receiver: Receiver) -> None:
    subscription = harness.subscribe(receiver, paused=True)
    harness.start()
    harness.emit()
    eventually(lambda: harness.counts(subscription)["pending"] == 1)
    events = harness.catalog.events.events_after(0, 10)
    harness.catalog.events.mark_dispatched(
        [event.seq for event in events], finished=[e.seq for e in events]
    )
    assert harness.catalog.events.prune_events(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert harness.deliveries(subscription) == []
