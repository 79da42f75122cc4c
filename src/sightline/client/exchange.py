"""One request and its answer, retried as the policy allows, written once for both clients.

An operation of the client is a generator: it yields a `Call` (an HTTP request to make) or a
`Pause` (time to wait), and is sent the `httpx.Response` of each call, or has the transport's
error thrown into it. The sync client drives it with `httpx.Client` and `time.sleep`, the async
one with `httpx.AsyncClient` and `asyncio.sleep`; everything else (request building, retries,
answer parsing, batching, waiting) is this shared code.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """An HTTP request, as `httpx.Client.build_request` takes it."""

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    content: bytes | None = None
    json: Any = None
    files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            self.method,
            self.url,
            params=self.params,
            headers=self.headers,
            content=self.content,
            json=self.json,
            files=self.files,
        )


@dataclass(frozen=True)
class Pause:
    seconds: float


Step = Call | Pause
Operation = Generator[Step, Any, T]


class ApiError(Exception):
    """An error answer from the API, with its HTTP status and stable error code
    (`retry_after`: the seconds a 429 or 503 asked to wait, if it said)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after


# The request never reached the server: sending it again is safe whatever it does.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Retry:
    """When to send a request again: after a connection error or timeout, or a 429 / 503
    answer (waiting what its `Retry-After` says, when it says), at most `retries` more times,
    waiting `backoff` × 2ⁿ seconds with jitter (at most `max_delay`) in between. Only
    idempotent requests are sent again (reads, deletes, and uploads, which look their bytes
    up first), and any request that never reached the server."""

    retries: int = 3
    backoff: float = 0.5
    max_delay: float = 30.0
    statuses: frozenset[int] = field(default=frozenset({429, 503}))

    def delay(self, error: Exception, attempt: int, *, idempotent: bool) -> float | None:
        """Seconds to wait before sending again after `error` on try `attempt` (0 the first),
        or None: raise it. A `Retry-After` longer than `max_delay` is not waited for."""
        if attempt >= self.retries:
            return None
        if isinstance(error, ApiError):
            if not idempotent or error.status not in self.statuses:
                return None
            if error.retry_after is not None:
                return error.retry_after if error.retry_after <= self.max_delay else None
        elif not isinstance(error, httpx.TransportError) or not (
            idempotent or isinstance(error, NOT_SENT)
        ):
            return None
        ceiling = min(self.max_delay, self.backoff * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def send(retry: Retry, call: Call, *, idempotent: bool = True) -> Operation[httpx.Response]:
    """The successful answer to `call`, retried as `retry` allows; ApiError for an error
    answer, httpx's error when the server cannot be reached."""
    attempt = 0
    while True:
        try:
            response: httpx.Response = yield call
            raise_for_error(response)
            return response
        except (httpx.TransportError, ApiError) as error:
            wait = retry.delay(error, attempt, idempotent=idempotent)
            if wait is None:
                raise
        yield Pause(wait)
        attempt += 1


def raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    retry_after = _seconds(response.headers.get("Retry-After"))
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details")
    except (ValueError, KeyError, TypeError):
        code, message, details = "HttpError", response.text, None
    raise ApiError(response.status_code, code, message, details, retry_after)


def _seconds(retry_after: str | None) -> float | None:
    """`Retry-After` in seconds: a number of seconds, or an HTTP date."""
    if retry_after is None:
        return None
    if retry_after.strip().isdigit():
        return float(retry_after)
    try:
        moment = parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    now = moment.now(moment.tzinfo)
    return max(0.0, (moment - now).total_seconds())
