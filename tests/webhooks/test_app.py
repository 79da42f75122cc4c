"""Webhooks in the whole application, on the embedded stack and on PostgreSQL + S3 + Redis:
image events from real uploads reach subscribers, and a restart in the middle of a retry
schedule picks it up where it was."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import partial
from typing import Any

from sightline.app import Sightline
from sightline.events import EventType, cloud_event
from sightline.images.service import Upload
from sightline.settings import Settings
from sightline.storage.records import ImageStatus
from sightline.webhooks.store import DeliveryStatus
from support.imagegen import solid
from webhooks.conftest import WEBHOOK_SETTINGS, eventually
from webhooks.receiver import Receiver


def with_webhooks(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update={**WEBHOOK_SETTINGS, **overrides})


def analysed(app: Sightline, image_id: str) -> bool:
    return app.service.get(image_id, collection=None).status is ImageStatus.DONE


def upload(app: Sightline, filename: str, metadata: dict[str, Any]) -> str:
    [ingested] = app.service.ingest(
        [Upload(solid(), filename)], metadata=json.dumps(metadata), collection="default"
    )
    return ingested.image.id


def test_image_events_reach_subscribers_with_file_name_and_metadata(
    stack_settings: Settings,
) -> None:
    app = Sightline(with_webhooks(stack_settings))
    try:
        with Receiver() as every, Receiver() as summer_jpegs:
            everything = app.subscriptions.create(every.url, collection=None)
            picky = app.subscriptions.create(
                summer_jpegs.url,
                collection=None,
                event_types=["sightline.image.analyzed", "sightline.image.deleted"],
                data_filters=[
                    {"key": "data.filename", "operator": "ends_with", "values": [".jpg"]},
                    {"key": "data.metadata.collection", "operator": "in", "values": ["summer"]},
                ],
            )
            app.start_workers()
            ids = {
                name: upload(app, name, {"collection": collection})
                for name, collection in [
                    ("a.jpg", "summer"),
                    ("b.png", "summer"),
                    ("c.JPG", "winter"),
                    ("d.JPG", "Summer"),
                ]
            }
            for image_id in ids.values():
                eventually(partial(analysed, app, image_id))
            app.service.delete(ids["a.jpg"], collection=None)
            every.wait(lambda r: len(r.delivered()) == 9)  # 4 created, 4 analyzed, 1 deleted

            def settled() -> bool:
                # Recorded in the catalog (after the metrics), not only received.
                wanted = {everything.id: 9, picky.id: 3}
                counts = {key: app.subscriptions.get(key, collection=None).counts for key in wanted}
                return all(
                    counts[key][DeliveryStatus.PENDING] == 0
                    and counts[key][DeliveryStatus.DELIVERED] == delivered
                    for key, delivered in wanted.items()
                )

            eventually(settled)
            metrics = app.metrics.render().decode()
    finally:
        app.close()

    # 12 requests answered 2xx (9 + 3), and as many deliveries kept as delivered.
    assert 'sightline_webhook_requests_total{outcome="delivered"} 12.0' in metrics
    assert "sightline_webhook_request_duration_seconds_count 12.0" in metrics
    assert 'sightline_webhook_deliveries{status="delivered"} 12.0' in metrics
    assert 'sightline_webhook_deliveries{status="pending"} 0.0' in metrics

    per_image: dict[str, list[str]] = defaultdict(list)
    for event in every.delivered():
        per_image[event["data"]["id"]].append(event["type"].rsplit(".", 1)[1])
    assert per_image[ids["a.jpg"]] == ["created", "analyzed", "deleted"]
    assert per_image[ids["b.png"]] == ["created", "analyzed"]

    chosen = [(event["type"], event["data"]["id"]) for event in summer_jpegs.delivered()]
    assert sorted(chosen) == sorted(
        [
            ("sightline.image.analyzed", ids["a.jpg"]),
            ("sightline.image.analyzed", ids["d.JPG"]),
            ("sightline.image.deleted", ids["a.jpg"]),
        ]
    )
    for event in summer_jpegs.delivered():
        assert event["data"]["filename"] in ("a.jpg", "d.JPG")
        assert event["data"]["metadata"]["collection"].lower() == "summer"


def test_a_restart_in_the_middle_of_a_retry_schedule_resumes_it(stack_settings: Settings) -> None:
    settings = with_webhooks(stack_settings, webhook_retry_delays="0.5")
    with Receiver(lambda request: 500 if request.number <= 2 else 200) as receiver:
        first = Sightline(settings)
        try:
            subscription = first.subscriptions.create(receiver.url, collection=None)
            first.start_workers()
            first.stores.events.record_events(
                [cloud_event(EventType.IMAGE_ANALYZED, "img_x", {"id": "img_x"})]
            )

            def attempted() -> list[int]:
                return [d.attempts for d in first.stores.subscriptions.deliveries(subscription.id)]

            eventually(lambda: attempted() == [1])
        finally:
            first.close()
        assert len(receiver.requests) == 1

        second = Sightline(settings)
        try:
            second.start_workers()

            def delivered() -> bool:
                found = second.stores.subscriptions.deliveries(subscription.id)
                return [d.status for d in found] == [DeliveryStatus.DELIVERED]

            eventually(delivered)
            [delivery] = second.stores.subscriptions.deliveries(subscription.id)
            log = second.stores.subscriptions.attempts(subscription.id)
        finally:
            second.close()
    assert [request.headers["sightline-attempt"] for request in receiver.requests] == [
        "1",
        "2",
        "3",
    ]
    assert delivery.attempts == 3
    assert [(a.attempt, a.status_code) for a in reversed(log)] == [(1, 500), (2, 500), (3, 200)]
