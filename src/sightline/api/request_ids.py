"""Every request has an id: the caller's `X-Request-ID` when it is a sensible one (a proxy's or
a client's), otherwise a new one. It is answered in `X-Request-ID`, carried by every log line
of the request, and by the events it writes and the jobs they ask for (`sightline.logs`)."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.logs import log_context

HEADER = "x-request-id"
# Ids go into log lines and events as they are: no spaces, quotes or control characters.
ACCEPTED = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id(given: str | None) -> str:
    """The caller's id if it is acceptable, otherwise a new one."""
    if given is not None and ACCEPTED.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.encode())
        current = request_id(given.decode("latin-1") if given is not None else None)

        async def answered(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = current
            await send(message)

        with log_context(request_id=current):
            await self.app(scope, receive, answered)
