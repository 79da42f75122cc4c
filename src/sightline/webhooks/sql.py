"""Event subscriptions, their deliveries and the delivery log, on SQLAlchemy Core in the
catalog's database (the contracts are `SubscriptionStore`'s and `DeliveryEngineStore`'s).

Fan-out follows `events` by seq with a watermark in `catalog_state`. Writers commit events in
seq order (see `statements`), so everything up to the newest visible seq is there to be read;
the watermark row is locked (`FOR UPDATE` on PostgreSQL, the single writer on SQLite) for the
transaction that reads the next events, inserts their deliveries and moves the watermark on, so
processes fanning out at the same time take turns and never skip or double an event.

Claims lease rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so senders in several processes
pass over each other's rows instead of waiting for them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from sightline.ids import time_sorted_id
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.records import JSON
from sightline.storage.statements import chunks, upsert
from sightline.webhooks.rows import (
    attempt_row,
    delivery_of,
    envelope_of,
    message_of,
    short_error,
    subscription_of,
    subscription_row,
)
from sightline.webhooks.statements import (
    CANDIDATES,
    CLAIM,
    HOLD_BACK,
    LEASE,
    SETTLE,
    delivery_select,
)
from sightline.webhooks.store import (
    Attempted,
    AttemptRecord,
    Claim,
    DeliveryRecord,
    DeliveryStatus,
    SubscriptionRecord,
)

WATERMARK = "subscriptions_seq"
EXPIRED = "ttl_expired"
# What `update` may change; the rest is the store's own.
CHANGEABLE = frozenset(
    {
        "name",
        "endpoint",
        "event_types",
        "subject_begins_with",
        "subject_ends_with",
        "data_filters",
        "max_events_per_batch",
        "max_attempts",
        "event_ttl_minutes",
        "paused",
        "secret",
    }
)

d = t.deliveries.c


def _now() -> datetime:
    return datetime.now(UTC)


def new_delivery_id() -> str:
    return time_sorted_id("dlv_")


def _of(collection: str | None) -> list[Any]:
    """The condition on `subscriptions` of a read within `collection` (none for every one)."""
    return [] if collection is None else [t.subscriptions.c.collection == collection]


class SQLSubscriptionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- subscriptions -----------------------------------------------------------------------

    def create(self, record: SubscriptionRecord) -> SubscriptionRecord:
        with self.db.write() as conn:
            # Under the watermark's lock no fan-out runs: events up to the newest one in the log
            # are (or will be) fanned out without this subscription, every later one with it.
            watermark = self._lock_watermark(conn)
            newest = int(conn.scalar(select(func.coalesce(func.max(t.events.c.seq), 0))) or 0)
            conn.execute(
                insert(t.subscriptions).values(
                    **subscription_row(record), start_seq=max(watermark, newest)
                )
            )
        found = self.get(record.id)
        assert found is not None  # just stored
        return found

    def get(self, subscription_id: str, collection: str | None = None) -> SubscriptionRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(t.subscriptions).where(
                    t.subscriptions.c.id == subscription_id, *_of(collection)
                )
            ).first()
            if row is None:
                return None
            counts = self._counts(conn, [row.id])
        return subscription_of(row, counts.get(row.id, {}))

    def list_subscriptions(self, collection: str | None = None) -> list[SubscriptionRecord]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.subscriptions)
                .where(*_of(collection))
                .order_by(t.subscriptions.c.created_at, t.subscriptions.c.id)
            ).all()
            counts = self._counts(conn, [row.id for row in rows])
        return [subscription_of(row, counts.get(row.id, {})) for row in rows]

    def update(self, subscription_id: str, **changes: Any) -> SubscriptionRecord | None:
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise ValueError(f"Cannot change {sorted(unknown)} of a subscription")
        with self.db.write() as conn:
            result = conn.execute(
                update(t.subscriptions)
                .where(t.subscriptions.c.id == subscription_id)
                .values(**changes, updated_at=_now())
            )
            if not result.rowcount:
                return None
        return self.get(subscription_id)

    def delete(self, subscription_id: str) -> bool:
        with self.db.write() as conn:
            result = conn.execute(
                delete(t.subscriptions).where(t.subscriptions.c.id == subscription_id)
            )
            return bool(result.rowcount)

    # -- deliveries and the log --------------------------------------------------------------

    def delivery(self, subscription_id: str, delivery_id: str) -> DeliveryRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                delivery_select().where(d.subscription_id == subscription_id, d.id == delivery_id)
            ).first()
        return None if row is None else delivery_of(row)

    def deliveries(
        self,
        subscription_id: str,
        *,
        status: DeliveryStatus | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[DeliveryRecord]:
        statement = delivery_select().where(d.subscription_id == subscription_id)
        if status is not None:
            statement = statement.where(d.status == str(status))
        if before_seq is not None:
            statement = statement.where(d.event_seq < before_seq)
        with self.db.read() as conn:
            rows = conn.execute(statement.order_by(d.event_seq.desc()).limit(limit)).all()
        return [delivery_of(row) for row in rows]

    def attempts(
        self, subscription_id: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[AttemptRecord]:
        log = t.delivery_attempts.c
        statement = select(t.delivery_attempts).where(log.subscription_id == subscription_id)
        if before_id is not None:
            statement = statement.where(log.id < before_id)
        with self.db.read() as conn:
            rows = conn.execute(statement.order_by(log.id.desc()).limit(limit)).all()
        return [
            AttemptRecord(
                id=row.id,
                subscription_id=row.subscription_id,
                at=row.at,
                attempt=row.attempt,
                delivery_ids=list(row.delivery_ids),
                status_code=row.status_code,
                latency_ms=row.latency_ms,
                error=row.error,
                outcome=row.outcome,
            )
            for row in rows
        ]

    def redeliver(
        self, subscription_id: str, delivery_ids: Sequence[str] | None, expires_at: datetime
    ) -> list[DeliveryRecord]:
        conditions = [
            d.subscription_id == subscription_id,
            d.status == str(DeliveryStatus.DEAD_LETTERED),
        ]
        requeued: list[DeliveryRecord] = []
        with self.db.write() as conn:
            if delivery_ids is None:
                found = list(conn.scalars(select(d.id).where(*conditions).with_for_update()))
            else:
                found = []
                for chunk in chunks(delivery_ids):
                    found += conn.scalars(
                        select(d.id).where(*conditions, d.id.in_(chunk)).with_for_update()
                    )
            now = _now()
            for chunk in chunks(found):
                conn.execute(
                    update(t.deliveries)
                    .where(d.id.in_(chunk))
                    .values(
                        status=str(DeliveryStatus.PENDING),
                        attempts=0,
                        next_attempt_at=now,
                        expires_at=expires_at,
                        leased_until=None,
                        lease=None,
                        last_attempt_at=None,
                        last_status_code=None,
                        last_error=None,
                        last_latency_ms=None,
                        dead_letter_reason=None,
                        delivered_at=None,
                    )
                )
                rows = conn.execute(delivery_select().where(d.id.in_(chunk))).all()
                requeued += [delivery_of(row) for row in rows]
        return requeued

    # -- the sending side --------------------------------------------------------------------

    def fan_out(self, matches: Callable[[SubscriptionRecord, JSON], bool], limit: int) -> int:
        state = t.catalog_state.c
        # A read first, one round trip: an idle catalog costs no write lock (SQLite has one
        # for everybody), and without subscriptions there is nothing to fan out.
        with self.db.read() as conn:
            mark, newest, subscribed = conn.execute(
                select(
                    select(state.value).where(state.key == WATERMARK).scalar_subquery(),
                    select(func.max(t.events.c.seq)).scalar_subquery(),
                    exists().where(t.subscriptions.c.id.is_not(None)),
                )
            ).one()
        if not subscribed or newest is None or (mark is not None and int(mark) >= newest):
            return 0
        now = _now()
        with self.db.write() as conn:
            # The lock first: a subscription committed while we waited for it must be seen.
            locked = self._lock_watermark(conn)
            subscribers = [
                (row.start_seq, subscription_of(row, {}))
                for row in conn.execute(select(t.subscriptions)).all()
            ]
            # No subscriber wants the events up to the oldest one's start (the watermark stands
            # still while there are none): jump them rather than read them.
            watermark = max(locked, min((start for start, _ in subscribers), default=0))
            events = conn.execute(
                select(t.events)
                .where(t.events.c.seq > watermark)
                .order_by(t.events.c.seq)
                .limit(limit)
            ).all()
            if not events:
                conn.execute(
                    update(t.catalog_state)
                    .where(state.key == WATERMARK)
                    .values(value=str(watermark))
                )
                return 0
            rows = []
            for event in events:
                message = envelope_of(event)
                for start_seq, subscription in subscribers:
                    if event.seq > start_seq and matches(subscription, message):
                        rows.append(
                            {
                                "id": new_delivery_id(),
                                "subscription_id": subscription.id,
                                "event_seq": event.seq,
                                "subject": event.subject,
                                "status": str(DeliveryStatus.PENDING),
                                "attempts": 0,
                                "next_attempt_at": now,
                                "expires_at": event.time
                                + timedelta(minutes=subscription.event_ttl_minutes),
                                "created_at": now,
                            }
                        )
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            for chunk in chunks(rows):
                # The watermark's lock rules doubles out; the constraint is the safety net.
                conn.execute(
                    dialect.insert(t.deliveries).on_conflict_do_nothing(
                        index_elements=["subscription_id", "event_seq"]
                    ),
                    chunk,
                )
            conn.execute(
                update(t.catalog_state)
                .where(state.key == WATERMARK)
                .values(value=str(events[-1].seq))
            )
            return len(events)

    def claim(
        self, now: datetime, lease_until: datetime, *, exclude: Collection[str], most: int
    ) -> list[Claim]:
        if most <= 0:
            return []
        # Which subscriptions have work, read without a write lock: mostly none.
        with self.db.read() as conn:
            candidates = list(
                conn.scalars(CANDIDATES, {"now": now, "busy": list(exclude), "most": most})
            )
        if not candidates:
            return []
        claims = []
        with self.db.write() as conn:
            for subscription_id in candidates:
                claim = self._claim_one(conn, subscription_id, now, lease_until)
                if claim is not None:
                    claims.append(claim)
        return claims

    def record(
        self, attempts: Sequence[Attempted], *, next_lease: timedelta | None = None
    ) -> list[Claim | None]:
        now = _now()
        next_claims: list[Claim | None] = []
        with self.db.write() as conn:
            # A subscription deleted while its request was out has no log to add to (the
            # attempts' foreign key would fail the whole transaction, everyone else's outcomes
            # with it) and no deliveries left: its outcomes are dropped. The rows found are
            # locked against deletion (KEY SHARE: changes to them may go on) until this commits.
            existing = self._existing(
                conn,
                {a.claim.subscription.id for a in attempts}
                | {a.attempt.subscription_id for a in attempts},
            )
            kept = [a for a in attempts if a.claim.subscription.id in existing]
            rows = [
                attempt_row(attempted.attempt)
                for attempted in kept
                if attempted.attempt.subscription_id in existing
            ]
            if rows:
                conn.execute(insert(t.delivery_attempts), rows)
            for attempted in attempts:
                if attempted.claim.subscription.id not in existing:
                    next_claims.append(None)
                    continue
                claim, attempt = attempted.claim, attempted.attempt
                claimed = {delivery.id: delivery for delivery in claim.deliveries}
                for change in attempted.updates:
                    delivered = change.status is DeliveryStatus.DELIVERED
                    result = conn.execute(
                        SETTLE,
                        {
                            "delivery": change.delivery_id,
                            "token": claim.lease,
                            "new_status": str(change.status),
                            "next_at": change.next_attempt_at,
                            "at": attempt.at,
                            "code": attempt.status_code,
                            "error": short_error(attempt.error),
                            "latency": attempt.latency_ms,
                            "reason": change.dead_letter_reason,
                            "delivered": now if delivered else None,
                        },
                    )
                    delivery = claimed.get(change.delivery_id)
                    if result.rowcount and change.status is DeliveryStatus.PENDING and delivery:
                        # The later events of its subject wait for it anyway: not due before
                        # it, they cost the claim query nothing meanwhile.
                        conn.execute(
                            HOLD_BACK,
                            {
                                "sub": delivery.subscription_id,
                                "subj": delivery.subject,
                                "after_seq": delivery.event_seq,
                                "next_at": change.next_attempt_at,
                            },
                        )
                next_claims.append(
                    self._claim_one(conn, claim.subscription.id, now, now + next_lease)
                    if next_lease is not None and attempted.claim_next
                    else None
                )
        return next_claims

    def expire(self, now: datetime) -> int:
        expired = and_(
            d.status == str(DeliveryStatus.PENDING),
            d.expires_at <= now,
            or_(d.leased_until.is_(None), d.leased_until <= now),
        )
        with self.db.read() as conn:
            if conn.scalar(select(d.id).where(expired).limit(1)) is None:
                return 0
        with self.db.write() as conn:
            result = conn.execute(
                update(t.deliveries)
                .where(expired)
                .values(
                    status=str(DeliveryStatus.DEAD_LETTERED),
                    dead_letter_reason=EXPIRED,
                    leased_until=None,
                    lease=None,
                )
            )
            return int(result.rowcount or 0)

    def prune(self, older_than: datetime) -> int:
        with self.db.write() as conn:
            attempts = conn.execute(
                delete(t.delivery_attempts).where(t.delivery_attempts.c.at < older_than)
            )
            delivered = conn.execute(
                delete(t.deliveries).where(
                    d.status == str(DeliveryStatus.DELIVERED), d.delivered_at < older_than
                )
            )
            return int(attempts.rowcount or 0) + int(delivered.rowcount or 0)

    # -- helpers -----------------------------------------------------------------------------

    def _lock_watermark(self, conn: Connection) -> int:
        state = t.catalog_state.c
        locked = select(state.value).where(state.key == WATERMARK).with_for_update()
        value = conn.scalar(locked)
        if value is None:  # the migration writes it; a catalog_state wiped by hand lacks it
            upsert(conn, t.catalog_state, {"key": WATERMARK, "value": "0"}, keys=["key"])
            value = conn.scalar(locked)
        return int(value or 0)

    def _existing(self, conn: Connection, subscription_ids: Collection[str]) -> set[str]:
        """Which of the subscriptions exist, locked against deletion until the transaction
        ends (`FOR KEY SHARE` on PostgreSQL; SQLite's single writer has no one to lock out)."""
        found: set[str] = set()
        ids = t.subscriptions.c.id
        for chunk in chunks(sorted(subscription_ids)):
            found.update(
                conn.scalars(
                    select(ids)
                    .where(ids.in_(chunk))
                    .order_by(ids)
                    .with_for_update(read=True, key_share=True)
                )
            )
        return found

    def _claim_one(
        self, conn: Connection, subscription_id: str, now: datetime, lease_until: datetime
    ) -> Claim | None:
        """Lease the subscription's next due batch (none if it is paused), read with the
        subscription as it is now: its endpoint, secret or batch size may have changed."""
        rows = conn.execute(CLAIM, {"sub": subscription_id, "now": now}).all()
        if not rows:
            return None  # nothing due, or another sender was quicker
        lease = secrets.token_hex(8)
        ids = [row.id for row in rows]
        conn.execute(LEASE, {"ids": ids, "until": lease_until, "token": lease})
        return Claim(
            subscription=subscription_of(rows[0], {}, prefix="s_"),
            lease=lease,
            deliveries=[delivery_of(row) for row in rows],
            envelopes=[message_of(row) for row in rows],
        )

    def _counts(self, conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {
            subscription_id: dict.fromkeys(map(str, DeliveryStatus), 0) for subscription_id in ids
        }
        for chunk in chunks(ids):
            rows = conn.execute(
                select(d.subscription_id, d.status, func.count())
                .where(d.subscription_id.in_(chunk))
                .group_by(d.subscription_id, d.status)
            ).all()
            for subscription_id, status, count in rows:
                counts[subscription_id][status] = count
        return counts
