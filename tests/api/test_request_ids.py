"""Request ids: answered in `X-Request-ID`, carried by the events a request writes, the jobs
they ask for and their log lines."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import RunningServer
from sightline import Client
from sightline.logs import configure
from support.imagegen import solid


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    lines = io.StringIO()
    handler = configure("INFO", "auto", lines, force=True)  # auto: a StringIO is no terminal
    try:
        yield lines
    finally:
        assert handler is not None
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _job_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in _lines(stream) if line["message"].startswith("Job ")]


def test_a_request_id_travels_from_the_upload_into_its_events_and_job_logs(
    server: RunningServer, json_logs: io.StringIO
) -> None:
    answer = httpx.post(
        f"{server.url}/v1/images",
        files={"file": ("red.jpg", solid("red"), "image/jpeg")},
        headers={"X-Request-ID": "upload-7.a"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.headers["X-Request-ID"] == "upload-7.a"
    [image] = answer.json()["images"]
    image_id = image["id"]
    with Client(server.url, timeout=30) as client:
        assert client.wait(image_id)["status"] == "done"

    events = server.sightline.stores.events.events_after(0, 100)
    carried = {event.envelope["type"]: event.envelope.get("requestid") for event in events}
    assert carried["sightline.image.created"] == "upload-7.a"
    assert carried["sightline.image.analyzed"] == "upload-7.a"  # written by the job
    # The image reads as done a moment before its worker logs the job's end.
    deadline = time.monotonic() + 10
    while not (done_lines := _job_lines(json_logs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    [done] = done_lines
    assert done["request_id"] == "upload-7.a" and done["image_id"] == image_id
    assert done["job_id"].startswith("analyze:")
    assert done["level"] == "INFO" and done["logger"] == "sightline.worker"
    assert set(done) >= {"time", "message"}


def test_a_request_without_a_usable_id_gets_a_new_one(server: RunningServer) -> None:
    for given in ({}, {"X-Request-ID": "two words"}, {"X-Request-ID": "x" * 129}):
        answer = httpx.get(f"{server.url}/v1/images", headers=given)
        assert re.fullmatch("[0-9a-f]{32}", answer.headers["X-Request-ID"])
    missing = httpx.get(f"{server.url}/v1/images/img_missing", headers={"X-Request-ID": "r-1"})
    assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "r-1"
