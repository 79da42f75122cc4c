"""`GET /v1/events`: the event log as Server-Sent Events, resumable with `Last-Event-ID`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import MAX_STORED_INT
from sightline.api.scope import ReadCollection
from sightline.errors import InvalidParameter
from sightline.events import image_subject
from sightline.storage.outbox import EventLog

router = APIRouter(prefix="/v1", tags=["events"], route_class=StrictJSONRoute)
BATCH = 500
KEEPALIVE_SECONDS = 15.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": "Server-Sent Events: a `retry` line, then one message per "
                        "event, and `: keep-alive` comments while nothing happens.",
                        "examples": [shown.EVENTS],
                    }
                }
            }
        }
    },
    summary="Live image events (CloudEvents 1.0 JSON in Server-Sent Events)",
    description=(
        "Each SSE message has `id` (a sequence number), `event` (the CloudEvents type) and "
        "`data` (the CloudEvents envelope). Without `since` or `Last-Event-ID` the stream starts "
        "with events after the request; reconnecting clients resume where they left off. A "
        "caller bound to a collection (or naming one) gets only the events whose `collection` "
        "attribute names it."
    ),
)
async def stream_events(
    request: Request,
    events: Annotated[EventLog, deps.part("events")],
    collection: ReadCollection,
    since: Annotated[
        int | None, Query(ge=0, le=MAX_STORED_INT, description="Replay events after this id.")
    ] = None,
    image_id: Annotated[str | None, Query(description="Only events about this image.")] = None,
    types: Annotated[
        list[str] | None, Query(description="Only these event types (comma-separated or repeated).")
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    if last_event_id is not None:
        if not (last_event_id.isdigit() and int(last_event_id) <= MAX_STORED_INT):
            raise InvalidParameter("Last-Event-ID must be an event id from this stream.")
        since = int(last_event_id)
    start = since if since is not None else await run_in_threadpool(events.last_event_seq)
    wanted_types = {part for value in types or [] for part in value.split(",") if part}
    subject = image_subject(image_id) if image_id else None
    poll = deps.settings(request).poll_interval_seconds

    async def stream() -> AsyncIterator[str]:
        position = start
        last_sent = time.monotonic()
        yield f"retry: {int(poll * 1000) + 1000}\n\n"
        while not await request.is_disconnected():
            batch = await run_in_threadpool(events.events_after, position, BATCH, collection)
            for event in batch:
                position = event.seq
                envelope = event.envelope
                if wanted_types and envelope["type"] not in wanted_types:
                    continue
                if subject and envelope["subject"] != subject:
                    continue
                data = json.dumps(envelope, separators=(",", ":"))
                yield f"id: {event.seq}\nevent: {envelope['type']}\ndata: {data}\n\n"
                last_sent = time.monotonic()
            if len(batch) < BATCH:
                if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
                await asyncio.sleep(poll)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
