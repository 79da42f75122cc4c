"""`/v1/subscriptions` on a real server: the validation handshake, refused targets, changes,
the delivery log, dead letters and redelivery, through the Python client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import TEST_SETTINGS, RunningServer, serve
from sightline import ApiError, Client
from sightline.app import Sightline
from sightline.events import EventType
from sightline.settings import Settings
from sightline.webhooks import verify_signature
from support.imagegen import solid
from webhooks.conftest import WEBHOOK_SETTINGS, eventually
from webhooks.receiver import Received, Receiver, Reply

ORIGIN = WEBHOOK_SETTINGS["webhook_origin"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The usual test server, with loopback endpoints allowed (the receivers live there)."""
    return Settings(data_dir=tmp_path / "data", **{**TEST_SETTINGS, **WEBHOOK_SETTINGS})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def error_of(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_create_read_list_and_delete(client: Client, receiver: Receiver) -> None:
    created = client.create_subscription(
        receiver.url,
        name="archive",
        event_types=["sightline.image.analyzed"],
        data_filters=[{"key": "data.filename", "operator": "ends_with", "values": [".jpg"]}],
        max_events_per_batch=5,
    )
    assert created["id"].startswith("sub_")
    assert len(created["secret"]) >= 16
    assert receiver.handshakes[0].method == "OPTIONS"
    assert receiver.handshakes[0].headers["webhook-request-origin"] == ORIGIN
    assert created["name"] == "archive"
    assert created["endpoint"] == receiver.url
    assert created["event_types"] == ["sightline.image.analyzed"]
    assert created["data_filters"] == [
        {"key": "data.filename", "operator": "ends_with", "values": [".jpg"]}
    ]
    assert created["max_events_per_batch"] == 5
    assert (created["max_attempts"], created["event_ttl_minutes"]) == (30, 1440)
    assert created["paused"] is False
    assert created["counts"] == {"pending": 0, "delivered": 0, "dead_lettered": 0}

    found = client.subscription(created["id"])
    assert "secret" not in found
    assert found == {key: value for key, value in created.items() if key != "secret"}
    assert client.subscriptions() == [found]

    client.delete_subscription(created["id"])
    assert error_of(client.subscription, created["id"]).code == "SubscriptionNotFound"
    assert client.subscriptions() == []
    assert error_of(client.delete_subscription, created["id"]).status == 404


def test_a_given_secret_is_kept(client: Client, receiver: Receiver) -> None:
    created = client.create_subscription(receiver.url, secret="my-own-secret-1234")
    assert created["secret"] == "my-own-secret-1234"


@pytest.mark.parametrize(
    ("allow_origin", "handshake_status"),
    [(None, 200), ("someone-else.example", 200), ("*", 405), (ORIGIN, 500)],
)
def test_an_endpoint_that_does_not_agree_is_not_subscribed(
    client: Client, allow_origin: str | None, handshake_status: int
) -> None:
    with Receiver(allow_origin=allow_origin, handshake_status=handshake_status) as receiver:
        error = error_of(client.create_subscription, receiver.url)
    assert (error.status, error.code) == (400, "WebhookValidationFailed")
    assert error.details["status_code"] == handshake_status
    assert error.details["allowed_origin"] == allow_origin
    assert client.subscriptions() == []


def test_the_exact_origin_is_accepted(client: Client) -> None:
    with Receiver(allow_origin=ORIGIN.upper()) as receiver:
        assert client.create_subscription(receiver.url)["endpoint"] == receiver.url


def test_an_endpoint_that_does_not_answer_is_not_subscribed(client: Client) -> None:
    with Receiver() as receiver:
        url = receiver.url
    error = error_of(client.create_subscription, url)
    assert (error.status, error.code) == (400, "WebhookValidationFailed")
    assert error.message.startswith("Nothing answers at 127.0.0.1 on port")


def test_an_endpoint_whose_host_cannot_be_found_is_told_in_words(client: Client) -> None:
    error = error_of(client.create_subscription, "https://example.invalid/hooks")
    assert (error.status, error.code) == (400, "WebhookValidationFailed")
    assert error.message == "Can't find the server example.invalid: check the address."


@pytest.fixture
def strict_client(tmp_path: Path) -> Iterator[Client]:
    """A server on the default policy: no non-public endpoint allowed."""
    settings = Settings(data_dir=tmp_path / "strict", **TEST_SETTINGS)  # type: ignore[arg-type]
    app = Sightline(settings)
    try:
        with serve(app, run_workers=False) as running, Client(running.url) as api:
            yield api
    finally:
        app.close()


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",  # a name resolving to loopback
        "[::1]:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "10.0.0.1",
        "192.168.0.10:8080",
        "169.254.169.254",
        "[fe80::1]",
    ],
)
def test_non_public_endpoints_are_refused(
    strict_client: Client, receiver: Receiver, host: str
) -> None:
    url = f"http://{host.format(port=receiver.port)}/hook"
    error = error_of(strict_client.create_subscription, url)
    assert (error.status, error.code) == (400, "WebhookTargetForbidden")
    assert receiver.handshakes == []
    assert strict_client.subscriptions() == []


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"endpoint": "ftp://example.com/hook"}, "InvalidUrl"),
        ({"endpoint": "/relative"}, "InvalidUrl"),
        ({"event_types": ["sightline.image.exploded"]}, "InvalidParameter"),
        ({"secret": "too-short"}, "InvalidParameter"),
        ({"max_events_per_batch": 0}, "InvalidParameter"),
        ({"max_events_per_batch": 101}, "InvalidParameter"),
        ({"max_attempts": 0}, "InvalidParameter"),
        ({"event_ttl_minutes": 0}, "InvalidParameter"),
        ({"event_ttl_minutes": 1e-300}, "InvalidParameter"),
        ({"event_ttl_minutes": 0.5}, "InvalidParameter"),  # a minute at least
        ({"event_types": ["sightline.image.created"] * (len(EventType) + 1)}, "InvalidParameter"),
        # Taken as typed: no coercion of strings or booleans.
        ({"paused": "yes"}, "InvalidParameter"),
        ({"paused": 1}, "InvalidParameter"),
        ({"max_events_per_batch": "5"}, "InvalidParameter"),
        ({"max_events_per_batch": True}, "InvalidParameter"),
        ({"max_attempts": 5.0}, "InvalidParameter"),
        ({"event_ttl_minutes": "60"}, "InvalidParameter"),
        ({"name": 5}, "InvalidParameter"),
        (
            {"data_filters": [{"key": "data.x", "operator": "in", "values": ["a"], "op": "x"}]},
            "InvalidParameter",
        ),
        # Unknown (misspelt) fields are refused, not ignored.
        ({"pause": True}, "InvalidParameter"),
        ({"rotate_secret": True}, "InvalidParameter"),  # a PATCH field only
        # No credentials in an endpoint: it is listed and logged.
        ({"endpoint": "http://user:password@127.0.0.1:{port}/hook"}, "InvalidUrl"),
        ({"endpoint": "http://user@127.0.0.1:{port}/hook"}, "InvalidUrl"),
        ({"endpoint": "https://:token@hooks.example.com/"}, "InvalidUrl"),
        (
            {"data_filters": [{"key": "data.x", "operator": "like", "values": ["a"]}]},
            "InvalidParameter",
        ),
        (
            {"data_filters": [{"key": "data.x", "operator": "ends_with", "values": [1]}]},
            "InvalidParameter",
        ),
    ],
)
def test_bad_fields_are_refused_before_any_request(
    client: Client, receiver: Receiver, fields: dict[str, Any], code: str
) -> None:
    endpoint = fields.pop("endpoint", receiver.url).format(port=receiver.port)
    error = error_of(client.create_subscription, endpoint, **fields)
    assert (error.status, error.code) == (400, code)
    assert receiver.handshakes == []
    assert client.subscriptions() == []


def test_numbers_may_be_given_as_json_integers(client: Client, receiver: Receiver) -> None:
    created = client.create_subscription(receiver.url, event_ttl_minutes=1, paused=False)
    assert created["event_ttl_minutes"] == 1.0


def test_a_change_with_an_unknown_or_mistyped_field_changes_nothing(
    client: Client, receiver: Receiver
) -> None:
    created = client.create_subscription(receiver.url)
    sid = created["id"]
    for changes in (
        {"pause": True},
        {"paused": "yes"},
        {"paused": True, "max_events_per_batch": "5"},
        {"rotate_secret": "true"},
        {"event_ttl_minutes": 0.5},
        {"endpoint": f"http://user:pw@127.0.0.1:{receiver.port}/hook"},
    ):
        error = error_of(client.update_subscription, sid, **changes)
        assert error.status == 400, changes
        assert error.code in ("InvalidParameter", "InvalidUrl"), changes
    found = client.subscription(sid)
    assert found == {key: value for key, value in created.items() if key != "secret"}
    assert len(receiver.handshakes) == 1


def test_changes_pause_filters_secret_and_endpoint(client: Client, receiver: Receiver) -> None:
    created = client.create_subscription(receiver.url, name="first", subject_ends_with=".jpg")
    paused = client.update_subscription(created["id"], paused=True, name="")
    assert paused["paused"] is True
    assert paused["name"] is None
    assert paused["subject_ends_with"] == ".jpg"
    assert "secret" not in paused

    rotated = client.update_subscription(created["id"], rotate_secret=True)
    assert rotated["secret"] != created["secret"]
    chosen = client.update_subscription(created["id"], secret="a-chosen-secret-123")
    assert chosen["secret"] == "a-chosen-secret-123"
    error = error_of(client.update_subscription, created["id"], secret="x" * 20, rotate_secret=True)
    assert error.code == "InvalidParameter"

    with Receiver(allow_origin=None) as refusing:
        error = error_of(client.update_subscription, created["id"], endpoint=refusing.url)
        assert error.code == "WebhookValidationFailed"
    assert client.subscription(created["id"])["endpoint"] == receiver.url
    with Receiver() as other:
        moved = client.update_subscription(created["id"], endpoint=other.url, subject_ends_with="")
        assert len(other.handshakes) == 1
    assert moved["endpoint"] == other.url
    assert moved["subject_ends_with"] is None
    assert error_of(client.update_subscription, "sub_nope", paused=True).code == (
        "SubscriptionNotFound"
    )


def test_deliveries_the_log_and_redelivery(client: Client, server: RunningServer) -> None:
    def respond(request: Received) -> Reply:
        # Created events are refused (dead letters), analysis results accepted.
        return Reply(410 if request.json()["type"] == "sightline.image.created" else 200)

    with Receiver(respond) as receiver:
        subscription = client.create_subscription(receiver.url)
        images = [client.upload(solid(color), filename=f"{color}.jpg") for color in ("red", "blue")]
        for image in images:
            client.wait(image["id"])
        sid = subscription["id"]
        eventually(
            lambda: (
                client.subscription(sid)["counts"]
                == {"pending": 0, "delivered": 2, "dead_lettered": 2}
            )
        )

        page = client.deliveries(sid, limit=3)
        assert len(page["deliveries"]) == 3 and page["next_cursor"]
        rest = client.deliveries(sid, limit=3, cursor=page["next_cursor"])
        assert len(rest["deliveries"]) == 1 and rest["next_cursor"] is None
        every = page["deliveries"] + rest["deliveries"]
        assert len({delivery["id"] for delivery in every}) == 4
        dead = client.deliveries(sid, status="dead_lettered")["deliveries"]
        assert [d["event_type"] for d in dead] == ["sightline.image.created"] * 2
        assert [d["subject"] for d in dead] == [
            f"images/{image['id']}" for image in reversed(images)
        ]
        for delivery in dead:
            assert delivery["dead_letter_reason"] == "rejected"
            assert (delivery["attempts"], delivery["last_status_code"]) == (1, 410)
            assert delivery["next_attempt_at"] is None
            assert delivery["last_latency_ms"] is not None
        done = client.deliveries(sid, status="delivered")["deliveries"]
        assert all(d["delivered_at"] and d["status"] == "delivered" for d in done)

        log = client.delivery_attempts(sid)
        assert len(log["attempts"]) == 4 and log["next_cursor"] is None
        assert sorted(a["status_code"] for a in log["attempts"]) == [200, 200, 410, 410]
        assert {a["outcome"] for a in log["attempts"]} == {"delivered", "dead_lettered"}
        first = client.delivery_attempts(sid, limit=1)
        assert first["attempts"] == log["attempts"][:1]
        assert (
            client.delivery_attempts(sid, limit=1, cursor=first["next_cursor"])["attempts"]
            == (log["attempts"][1:2])
        )

        # Delivered already: nothing to redeliver.
        error = error_of(client.redeliver, sid, done[0]["id"])
        assert (error.status, error.code) == (409, "NotDeadLettered")
        assert error_of(client.redeliver, sid, "dlv_nope").code == "DeliveryNotFound"

        receiver.respond = lambda _request: Reply(200)
        again = client.redeliver(sid, dead[0]["id"])
        assert (again["status"], again["attempts"], again["dead_letter_reason"]) == (
            "pending",
            0,
            None,
        )
        eventually(lambda: client.subscription(sid)["counts"]["dead_lettered"] == 1)
        assert client.redeliver_all(sid) == 1
        eventually(lambda: client.subscription(sid)["counts"]["delivered"] == 4)
        assert client.redeliver_all(sid) == 0

    for request in receiver.requests:
        assert verify_signature(
            subscription["secret"], request.headers["sightline-signature"], request.body
        )
    delivered = [event for event in receiver.delivered()]
    assert sorted(event["type"] for event in delivered) == [
        "sightline.image.analyzed",
        "sightline.image.analyzed",
        "sightline.image.created",
        "sightline.image.created",
    ]
    analyzed = [event for event in delivered if event["type"] == "sightline.image.analyzed"]
    assert {event["data"]["filename"] for event in analyzed} == {"red.jpg", "blue.jpg"}


def test_bad_cursors_and_statuses(client: Client, receiver: Receiver) -> None:
    sid = client.create_subscription(receiver.url)["id"]
    assert error_of(client.deliveries, sid, cursor="abc").code == "InvalidParameter"
    assert error_of(client.deliveries, sid, status="lost").code == "InvalidParameter"
    assert error_of(client.delivery_attempts, sid, cursor="-1").code == "InvalidParameter"
    # Past 64-bit integers (the database's), or digits only str.isdigit() takes: 400, not 500.
    for cursor in ("9" * 40, str(2**63), "9" * 19, "\u0663", "\u00b2"):
        for listing in (client.deliveries, client.delivery_attempts):
            error = error_of(listing, sid, cursor=cursor)
            assert (error.status, error.code) == (400, "InvalidParameter"), cursor
    for listing in (client.deliveries, client.delivery_attempts):
        assert listing(sid, cursor=str(2**63 - 1))["next_cursor"] is None
    assert error_of(client.deliveries, "sub_nope").code == "SubscriptionNotFound"


def test_subscriptions_need_the_api_key(tmp_path: Path, receiver: Receiver) -> None:
    settings = Settings(
        data_dir=tmp_path / "keys", api_keys="k1", **{**TEST_SETTINGS, **WEBHOOK_SETTINGS}
    )
    app = Sightline(settings)
    try:
        with serve(app, run_workers=False) as running:
            answer = httpx.post(f"{running.url}/v1/subscriptions", json={"endpoint": receiver.url})
            assert answer.status_code == 401
            assert httpx.get(f"{running.url}/v1/subscriptions").status_code == 401
            with Client(running.url, api_key="k1") as api:
                assert api.create_subscription(receiver.url)["id"].startswith("sub_")
    finally:
        app.close()
    assert len(receiver.handshakes) == 1
