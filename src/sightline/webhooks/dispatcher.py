"""The delivery engine: fans events out to subscriptions and sends them, in every process that
runs workers.

One thread runs an asyncio loop. Each turn it fans new events out (deliveries inserted in the
catalog), dead-letters what outlived its TTL, and claims due deliveries with a lease: at most one
request in flight per subscription in this process, up to `SIGHTLINE_WEBHOOK_CONCURRENCY`
subscriptions at once, so a slow or dead endpoint delays only its own subscription. Catalog
calls run in a small thread pool, never on the loop. Every piece of state is in the catalog: a
process that stops or dies leaves its claims to run out, and any process resumes the schedule.

Outcomes: a 2xx is delivered; 400, 403, 410, 413, 415 and 422 say the receiver will never take
the event (dead-lettered at once, `rejected`); anything else is retried after the next delay of
`SIGHTLINE_WEBHOOK_RETRY_DELAYS` (±20 % jitter; `Retry-After` on 429 and 503 may lengthen
that wait, up to an hour, never shorten it) until `max_attempts` (`max_attempts`) or the
event's TTL (`ttl_expired`).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sightline.addresses import AddressPolicy
from sightline.errors import BackendError
from sightline.metrics import Metrics
from sightline.settings import Settings
from sightline.storage.records import JSON
from sightline.webhooks.filters import matches
from sightline.webhooks.signing import SIGNATURE_HEADER, signature_header
from sightline.webhooks.store import (
    Attempted,
    AttemptRecord,
    Claim,
    DeliveryEngineStore,
    DeliveryStatus,
    DeliveryUpdate,
    SubscriptionRecord,
)
from sightline.webhooks.transport import DeliveryError, WebhookClient

log = logging.getLogger(__name__)
T = TypeVar("T")

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"
DELIVERY_ID_HEADER = "Sightline-Delivery-Id"
ATTEMPT_HEADER = "Sightline-Attempt"
REJECTED = frozenset({400, 403, 410, 413, 415, 422})  # the receiver will never take it
RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_RETRY_AFTER_SECONDS = 3600.0
JITTER = 0.2
FAN_OUT_BATCH = 500
FAN_OUT_BATCHES_PER_TURN = 10  # then send: a backlog must not hold back sending for long
EXPIRE_EVERY_SECONDS = 1.0
PRUNE_EVERY_SECONDS = 3600.0
IDLE_CHECK_EVERY_SECONDS = 10.0
DATABASE_THREADS = 4
BATCHES_IN_A_ROW = 50
RECORDS_PER_TRANSACTION = 64


class Outcome(StrEnum):
    """What one HTTP attempt came to, as the delivery log says."""

    DELIVERED = "delivered"
    RETRYING = "retrying"
    DEAD_LETTERED = "dead_lettered"


class DeadLetterReason(StrEnum):
    REJECTED = "rejected"
    MAX_ATTEMPTS = "max_attempts"
    TTL_EXPIRED = "ttl_expired"


def retry_delay(
    delays: Sequence[float],
    attempts: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    base = delays[min(max(attempts, 1), len(delays)) - 1]
    scheduled = base * (rng or random).uniform(1 - JITTER, 1 + JITTER)
    if retry_after is None:
        return scheduled
    # `Retry-After` may ask for a longer wait (up to an hour), never a shorter one: an endpoint
    # answering `Retry-After: 0` (or a date in the past) must not burn every attempt at once.
    return max(scheduled, min(retry_after, MAX_RETRY_AFTER_SECONDS))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit alone takes "²", which float refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def decide(
    claim: Claim,
    status_code: int | None,
    now: datetime,
    delay: float,
) -> tuple[Outcome, list[DeliveryUpdate]]:
    """The fate of each claimed delivery after an attempt answered `status_code` (None: no
    answer), retrying `delay` seconds from `now` where it may."""
    retry_at = now + timedelta(seconds=delay)
    updates = []
    for delivery in claim.deliveries:
        attempts = delivery.attempts + 1
        reason: DeadLetterReason | None = None
        if status_code is not None and 200 <= status_code < 300:
            updates.append(DeliveryUpdate(delivery.id, DeliveryStatus.DELIVERED, now))
            continue
        if status_code in REJECTED:
            reason = DeadLetterReason.REJECTED
        elif attempts >= claim.subscription.max_attempts:
            reason = DeadLetterReason.MAX_ATTEMPTS
        elif retry_at >= delivery.expires_at:
            reason = DeadLetterReason.TTL_EXPIRED  # it would expire before the next attempt
        if reason is None:
            updates.append(DeliveryUpdate(delivery.id, DeliveryStatus.PENDING, retry_at))
        else:
            updates.append(
                DeliveryUpdate(delivery.id, DeliveryStatus.DEAD_LETTERED, now, str(reason))
            )
    if status_code is not None and 200 <= status_code < 300:
        outcome = Outcome.DELIVERED
    elif all(update.status is DeliveryStatus.DEAD_LETTERED for update in updates):
        outcome = Outcome.DEAD_LETTERED
    else:
        outcome = Outcome.RETRYING
    return outcome, updates


def encode(claim: Claim) -> tuple[bytes, str]:
    """The request body and its content type: one structured CloudEvent, or (for a subscription
    taking batches) a JSON array of them."""
    if claim.subscription.max_events_per_batch > 1:
        payload: Any = claim.envelopes
        content_type = BATCH_CONTENT_TYPE
    else:
        payload = claim.envelopes[0]
        content_type = CONTENT_TYPE
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return body, content_type


class Dispatcher:
    def __init__(
        self, settings: Settings, store: DeliveryEngineStore, metrics: Metrics | None = None
    ) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        self.policy = AddressPolicy(settings.webhook_networks())
        self.delays = settings.webhook_delays()
        self.timeout = settings.webhook_timeout_seconds
        self.concurrency = settings.webhook_concurrency
        self.poll_seconds = settings.poll_interval_seconds
        self.retention = timedelta(days=settings.event_retention_days)
        # Long past any attempt's end (each is bounded by the timeout): a lease runs out only
        # when its process is gone.
        self.lease = timedelta(seconds=2 * self.timeout + 30)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._outcomes: asyncio.Queue[tuple[Attempted, asyncio.Future[Claim | None]]] | None = None
        self._last_expiry = 0.0
        self._last_prune = 0.0
        self._last_idle_check = 0.0

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sightline-webhooks", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New events or changed subscriptions: look now rather than at the next poll."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:
            pass  # the loop just closed: nothing left to wake

    def stop(self, timeout: float | None = None) -> bool:
        """Claim nothing new; requests in flight get the webhook timeout to finish and be
        recorded (an unrecorded one is sent again once its lease runs out). False if the
        thread did not end in time."""
        self._stopping.set()
        self.notify()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        executor = ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="sightline-webhooks")
        client = WebhookClient(self.policy, self.timeout)
        in_flight: dict[str, asyncio.Task[None]] = {}
        self._outcomes = asyncio.Queue()
        recorder = asyncio.create_task(self._record(executor, self._outcomes))
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    await self._turn(executor, client, in_flight)
                except BackendError as exc:  # e.g. the database restarting: no traceback
                    log.warning("Webhook delivery failed to reach the catalog: %s", exc.message)
                except Exception:
                    log.exception("Webhook delivery failed; trying again")
                if self._stopping.is_set():
                    break
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                except TimeoutError:
                    pass
            if in_flight:
                await asyncio.wait(list(in_flight.values()), timeout=self.timeout + 5)
            for task in in_flight.values():
                task.cancel()
        finally:
            recorder.cancel()
            self._loop = None
            await client.aclose()
            executor.shutdown(wait=True)

    async def _turn(
        self,
        executor: ThreadPoolExecutor,
        client: WebhookClient,
        in_flight: dict[str, asyncio.Task[None]],
    ) -> None:
        for _batch in range(FAN_OUT_BATCHES_PER_TURN):
            fanned = await self._call(executor, self.store.fan_out, self._matches, FAN_OUT_BATCH)
            if fanned < FAN_OUT_BATCH:
                break
        if time.monotonic() - self._last_expiry > EXPIRE_EVERY_SECONDS:
            self._last_expiry = time.monotonic()
            await self._call(executor, self.store.expire, datetime.now(UTC))
        if time.monotonic() - self._last_idle_check > IDLE_CHECK_EVERY_SECONDS:
            self._last_idle_check = time.monotonic()
            await client.close_idle()
        if time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS:
            self._last_prune = time.monotonic()
            await self._call(executor, self.store.prune, datetime.now(UTC) - self.retention)
        free = self.concurrency - len(in_flight)
        if free <= 0:
            return
        now = datetime.now(UTC)
        claims = await self._call(
            executor,
            functools.partial(
                self.store.claim, now, now + self.lease, exclude=set(in_flight), most=free
            ),
        )
        for claim in claims:
            subscription_id = claim.subscription.id
            task = asyncio.create_task(self._serve(executor, client, claim))
            in_flight[subscription_id] = task
            task.add_done_callback(functools.partial(self._done, in_flight, subscription_id))

    def _done(
        self, in_flight: dict[str, asyncio.Task[None]], subscription_id: str, _task: Any
    ) -> None:
        in_flight.pop(subscription_id, None)
        if self._wake is not None:
            self._wake.set()  # its next deliveries may be due now

    async def _serve(
        self, executor: ThreadPoolExecutor, client: WebhookClient, claim: Claim
    ) -> None:
        """Send the claim, then the subscription's next due batches one after the other (each
        claimed when the last is recorded, in one transaction), until none is due; after
        `BATCHES_IN_A_ROW` the slot is given back, so that busy subscriptions take turns."""
        current: Claim | None = claim
        sent = 0
        try:
            while current is not None:
                sent += 1
                more = sent < BATCHES_IN_A_ROW and not self._stopping.is_set()
                current = await self._send(executor, client, current, claim_next=more)
        except Exception:
            # A bug, not an endpoint's failure: the lease runs out and the batch comes back.
            log.exception("Sending to subscription %s failed", claim.subscription.id)

    async def _send(
        self,
        executor: ThreadPoolExecutor,
        client: WebhookClient,
        claim: Claim,
        *,
        claim_next: bool,
    ) -> Claim | None:
        subscription = claim.subscription
        body, content_type = encode(claim)
        attempt = max(delivery.attempts for delivery in claim.deliveries) + 1
        headers = [
            ("Content-Type", content_type),
            (SIGNATURE_HEADER, signature_header(subscription.secret, body)),
            (DELIVERY_ID_HEADER, ",".join(delivery.id for delivery in claim.deliveries)),
            (ATTEMPT_HEADER, str(attempt)),
        ]
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            answer = await client.request(
                "POST", subscription.endpoint, headers, body, key=subscription.id
            )
        except DeliveryError as exc:
            error = str(exc)
            latency_ms = (time.perf_counter() - started) * 1000
        else:
            status_code = answer.status_code
            latency_ms = answer.latency_ms
            if not 200 <= status_code < 300:
                text = answer.body[:200].decode("utf-8", "replace").strip()
                error = f"HTTP {status_code}" + (f": {text}" if text else "")
            if status_code in RETRY_AFTER_STATUSES:
                retry_after = parse_retry_after(answer.headers.get("retry-after"), started_at)
        now = datetime.now(UTC)
        delay = retry_delay(self.delays, attempt, retry_after)
        outcome, updates = decide(claim, status_code, now, delay)
        self.metrics.webhook_request(str(outcome), latency_ms / 1000)
        record = AttemptRecord(
            subscription_id=subscription.id,
            at=started_at,
            attempt=attempt,
            delivery_ids=[delivery.id for delivery in claim.deliveries],
            status_code=status_code,
            latency_ms=round(latency_ms, 1),
            error=error,
            outcome=str(outcome),
        )
        assert self._outcomes is not None  # made before any sending starts
        recorded: asyncio.Future[Claim | None] = asyncio.get_running_loop().create_future()
        self._outcomes.put_nowait(
            (Attempted(claim, record, updates, claim_next=claim_next), recorded)
        )
        return await recorded

    async def _record(
        self,
        executor: ThreadPoolExecutor,
        outcomes: asyncio.Queue[tuple[Attempted, asyncio.Future[Claim | None]]],
    ) -> None:
        """Write the senders' outcomes, those waiting together in one transaction (the catalog
        takes one writer at a time: fewer, fuller transactions keep up with many senders), and
        hand each sender its subscription's next batch."""
        while True:
            waiting = [await outcomes.get()]
            while len(waiting) < RECORDS_PER_TRANSACTION and not outcomes.empty():
                waiting.append(outcomes.get_nowait())
            next_claims = await self._record_all(executor, [attempted for attempted, _ in waiting])
            for (_, recorded), next_claim in zip(waiting, next_claims, strict=True):
                if not recorded.done():
                    recorded.set_result(next_claim)

    async def _record_all(
        self, executor: ThreadPoolExecutor, attempts: list[Attempted]
    ) -> list[Claim | None]:
        """Record the attempts in one transaction; if that fails, one by one, so that an
        outcome that cannot be written does not take the others down with it (theirs would be
        sent again once their leases ran out)."""
        try:
            return await self._call(
                executor, functools.partial(self.store.record, attempts, next_lease=self.lease)
            )
        except Exception:
            if len(attempts) == 1:
                # The lease runs out and the deliveries are sent again: at least once.
                log.exception(
                    "Recording a webhook attempt for %s failed",
                    attempts[0].claim.subscription.id,
                )
                return [None]
            log.warning(
                "Recording %d webhook attempts together failed; recording them one by one",
                len(attempts),
                exc_info=True,
            )
        next_claims: list[Claim | None] = []
        for attempted in attempts:
            next_claims += await self._record_all(executor, [attempted])
        return next_claims

    def _matches(self, subscription: SubscriptionRecord, envelope: JSON) -> bool:
        try:
            return matches(subscription, envelope)
        except Exception:
            # A filter bug must not stop the fan-out for every subscription.
            log.exception("Matching event %s for %s failed", envelope.get("id"), subscription.id)
            return False

    async def _call(
        self, executor: ThreadPoolExecutor, function: Callable[..., T], *args: Any
    ) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(function, *args))
