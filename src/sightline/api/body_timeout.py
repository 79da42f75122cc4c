"""A client that stops sending its request body (one byte at a time, or not at all) is answered
408 `RequestTimeout` once it has sent nothing for the timeout, so it cannot hold a connection
and a worker forever. Only the body is timed: afterwards, waiting on the client (a live event
stream waiting for it to disconnect) is no longer a body read."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.errors import RequestTimeout


class BodyReadTimeout:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout(self.seconds):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"The request body stalled: nothing arrived for {self.seconds:g} seconds."
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)
