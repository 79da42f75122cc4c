"""`GET /v1/events`: live CloudEvents over SSE, filtered and resumable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from conftest import RunningServer
from sightline import Client
from support.imagegen import solid


def read_events(response: httpx.Response) -> Iterator[tuple[int, str, dict[str, Any]]]:
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line == "":
            if "data" in fields:
                yield int(fields["id"]), fields["event"], json.loads(fields["data"])
            fields = {}
            continue
        name, _, value = line.partition(": ")
        fields[name] = value


def collect_until(
    server: RunningServer, *, stop_type: str, count: int = 1, **params: Any
) -> list[tuple[int, str, dict[str, Any]]]:
    seen: list[tuple[int, str, dict[str, Any]]] = []
    headers = {}
    if "last_event_id" in params:
        headers["Last-Event-ID"] = str(params.pop("last_event_id"))
    with httpx.stream(
        "GET", f"{server.url}/v1/events", params=params, headers=headers, timeout=20
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in read_events(response):
            seen.append(event)
            if sum(kind == stop_type for _, kind, _ in seen) >= count:
                return seen
    return seen


def test_stream_carries_cloudevents_for_the_whole_lifecycle(
    server: RunningServer, client: Client
) -> None:
    image = client.upload(solid(), metadata={"k": "v"})
    client.wait(image["id"])
    client.delete(image["id"])
    events = collect_until(server, stop_type="sightline.image.deleted", since=0)
    types = [kind for _, kind, _ in events]
    assert types == [
        "sightline.image.created",
        "sightline.image.analyzed",
        "sightline.image.deleted",
    ]
    ids = [seq for seq, _, _ in events]
    assert ids == sorted(ids)
    created = events[0][2]
    assert created["specversion"] == "1.0"
    assert created["type"] == "sightline.image.created"
    assert created["source"] == "/sightline"
    assert created["subject"] == f"images/{image['id']}"
    assert created["datacontenttype"] == "application/json"
    assert created["time"].endswith("Z")
    assert created["data"]["id"] == image["id"]
    assert created["data"]["metadata"] == {"k": "v"}
    assert created["data"]["features"] == ["metadata", "color", "hash", "thumbnail"]
    analyzed = events[1][2]["data"]
    assert analyzed["status"] == "done"
    assert set(analyzed["features"].values()) == {"done"}


def test_resume_with_last_event_id_and_filters(server: RunningServer, client: Client) -> None:
    first = client.wait(client.upload(solid("red"))["id"])
    second = client.wait(client.upload(solid("blue"))["id"])
    everything = collect_until(server, stop_type="sightline.image.analyzed", count=2, since=0)
    first_seq = everything[0][0]
    resumed = collect_until(
        server, stop_type="sightline.image.analyzed", count=2, last_event_id=first_seq
    )
    assert resumed == everything[1:]

    only_second = collect_until(
        server, stop_type="sightline.image.analyzed", since=0, image_id=second["id"]
    )
    assert {data["subject"] for _, _, data in only_second} == {f"images/{second['id']}"}
    analyzed_only = collect_until(
        server,
        stop_type="sightline.image.analyzed",
        count=2,
        since=0,
        types="sightline.image.analyzed",
    )
    assert [data["data"]["id"] for _, _, data in analyzed_only] == [first["id"], second["id"]]


def test_live_events_arrive_while_connected(server: RunningServer, client: Client) -> None:
    with httpx.stream("GET", f"{server.url}/v1/events", timeout=20) as response:
        image = client.upload(solid("yellow"))
        for _, kind, data in read_events(response):
            if kind == "sightline.image.analyzed":
                assert data["data"]["id"] == image["id"]
                break
