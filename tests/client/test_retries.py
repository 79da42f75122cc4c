"""Retries: flaky answers come from an httpx MockTransport (the one place a server is faked: a
real one does not fail on cue); the idempotent upload is checked against a real server whose
answer is lost on the way back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from conftest import RunningServer
from sightline import ApiError, AsyncClient, Client, Retry
from sightline.client.exchange import raise_for_error
from support.imagegen import solid

QUICK = Retry(retries=3, backoff=0.001)
IMAGE = {"id": "img_1", "status": "done", "features": {}}


def flaky(*answers: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[str]]:
    """A transport giving these answers (or raising these errors) in turn, then 200 IMAGE."""
    sent: list[str] = []
    queue = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if not queue:
            return httpx.Response(200, json=IMAGE)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return httpx.MockTransport(answer), sent


def busy(status: int = 503, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"error": {"code": "BackendError", "message": "busy"}}
    return httpx.Response(status, json=body, headers=headers)


def test_reads_are_retried_on_503_429_and_connection_errors() -> None:
    transport, sent = flaky(busy(503), busy(429, "0"), httpx.ConnectError("refused"))
    with Client("http://sightline.test", transport=transport, retries=QUICK) as client:
        assert client.get("img_1").id == "img_1"
    assert sent == ["GET /v1/images/img_1"] * 4


def test_retries_are_bounded() -> None:
    transport, sent = flaky(*[busy(503)] * 5)
    with Client("http://sightline.test", transport=transport, retries=QUICK) as client:
        with pytest.raises(ApiError) as error:
            client.get("img_1")
    assert error.value.status == 503 and len(sent) == 4


def test_requests_that_are_not_idempotent_are_not_sent_again() -> None:
    transport, sent = flaky(busy(503), httpx.ReadTimeout("slow"))
    with Client("http://sightline.test", transport=transport, retries=QUICK) as client:
        with pytest.raises(ApiError):
            client.create_classifier("shoes")
        with pytest.raises(httpx.ReadTimeout):
            client.train("shoes")
    assert sent == ["POST /v1/classifiers", "POST /v1/classifiers/shoes/train"]


def test_a_request_that_never_reached_the_server_is_sent_again_whatever_it_does() -> None:
    transport, sent = flaky(httpx.ConnectError("refused"))
    with Client("http://sightline.test", transport=transport, retries=QUICK) as client:
        client.delete_classifier("shoes")
        client.reprocess("img_1")
    assert sent == ["DELETE /v1/classifiers/shoes"] * 2 + ["POST /v1/images/img_1/reprocess"]


def test_retry_after_is_honoured_up_to_max_delay() -> None:
    policy = Retry(retries=3, max_delay=10)
    in_five = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)

    def refused(retry_after: str) -> ApiError:
        with pytest.raises(ApiError) as error:
            raise_for_error(busy(429, retry_after))
        return error.value

    assert policy.delay(refused("7"), 0, idempotent=True) == 7
    assert 3 < (policy.delay(refused(in_five), 0, idempotent=True) or 0) <= 5
    assert policy.delay(refused("60"), 0, idempotent=True) is None  # longer than max_delay
    assert policy.delay(refused("1"), 3, idempotent=True) is None  # out of retries
    backoffs = [policy.delay(httpx.ReadError("reset"), n, idempotent=True) for n in range(3)]
    # Exponential, with jitter in the upper half of each step.
    assert [
        ceiling / 2 <= (wait or 0) <= ceiling
        for wait, ceiling in zip(backoffs, [0.5, 1, 2], strict=True)
    ] == [True] * 3


def test_the_async_client_retries_the_same_way() -> None:
    sent: list[str] = []
    answers: list[Callable[[], httpx.Response]] = [lambda: busy(503), lambda: busy(429, "0")]

    async def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return answers.pop(0)() if answers else httpx.Response(200, json=IMAGE)

    async def scenario() -> str:
        transport = httpx.MockTransport(answer)
        async with AsyncClient("http://sightline.test", transport=transport, retries=QUICK) as c:
            return (await c.get("img_1")).id

    assert asyncio.run(scenario()) == "img_1" and len(sent) == 3


class LosesAnUploadAnswer(httpx.HTTPTransport):
    """The real server stores upload number `lost` (or, with `before_server`, never sees it),
    and the client gets a broken connection instead of its answer."""

    def __init__(self, lost: int, *, before_server: bool) -> None:
        super().__init__()
        self.lost = lost
        self.before_server = before_server
        self.uploads = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/images":
            self.uploads += 1
            if self.uploads == self.lost:
                if not self.before_server:
                    super().handle_request(request).read()
                raise httpx.ReadError("connection reset by peer")
        return super().handle_request(request)


@pytest.mark.parametrize("before_server", [False, True], ids=["stored", "not-stored"])
@pytest.mark.parametrize("lost", [1, 2], ids=["one-file", "batch"])
def test_an_upload_retried_after_a_lost_answer_is_stored_once(
    server: RunningServer, lost: int, before_server: bool
) -> None:
    transport = LosesAnUploadAnswer(lost, before_server=before_server)
    with Client(server.url, transport=transport, retries=QUICK) as client:
        image = client.upload(solid("navy"), filename="a.jpg", metadata={"n": 1})
        batch = client.upload_many([solid("olive"), solid("teal")])

        stored = [item.id for item in client.list().items]
        assert sorted(stored) == sorted([image.id, *(item.id for item in batch)])
        assert image.filename == "a.jpg" and not image.duplicate
        assert transport.uploads == (3 if before_server else 2)
        # Without a failure, the same bytes sent again are a new image, as always.
        again = client.upload(solid("navy"), filename="a.jpg", metadata={"n": 1})
        assert again.id != image.id and again.duplicate
