"""The delivery engine's hot SQL statements, built once: building (and hashing) them again for
every delivery would cost more than running them. A delivery is due when it is pending, its time
has come, no live lease holds it, it has not expired, and no earlier event of its subject is
still pending in its subscription."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, String, and_, bindparam, exists, or_, select, update
from sqlalchemy.sql.elements import BindParameter

from sightline.storage import tables as t
from sightline.storage.tables import UTCDateTime
from sightline.webhooks.store import DeliveryStatus

d = t.deliveries.c


def delivery_select() -> Any:
    """Deliveries with their events' columns, named `event_…`."""
    event = t.events.c
    return select(
        t.deliveries,
        event.id.label("event_id"),
        event.type.label("event_type"),
        event.source.label("event_source"),
        event.time.label("event_time"),
        event.data.label("event_data"),
        event.collection.label("event_collection"),
    ).join(t.events, event.seq == d.event_seq)


PENDING = str(DeliveryStatus.PENDING)
_earlier = t.deliveries.alias("earlier")
_now_param = bindparam("now", type_=UTCDateTime())
DUE = and_(
    d.status == PENDING,
    d.next_attempt_at <= _now_param,
    or_(d.leased_until.is_(None), d.leased_until <= _now_param),
    d.expires_at > _now_param,
    # Held back while an earlier event of its subject is still pending in the subscription.
    ~exists().where(
        _earlier.c.subscription_id == d.subscription_id,
        _earlier.c.subject == d.subject,
        _earlier.c.status == PENDING,
        _earlier.c.event_seq < d.event_seq,
    ),
)
CANDIDATES = (
    select(d.subscription_id)
    .where(
        DUE,
        d.subscription_id.in_(
            select(t.subscriptions.c.id).where(t.subscriptions.c.paused.is_(False))
        ),
        d.subscription_id.not_in(bindparam("busy", expanding=True)),
    )
    .distinct()
    .limit(bindparam("most"))
)
LEASE = (
    update(t.deliveries)
    .where(d.id.in_(bindparam("ids", expanding=True)))
    .values(
        leased_until=bindparam("until", type_=UTCDateTime()),
        lease=bindparam("token", type_=String()),
    )
)
SETTLE = (
    update(t.deliveries)
    .where(
        d.id == bindparam("delivery"),
        d.lease == bindparam("token"),
        d.status == PENDING,
    )
    .values(
        status=bindparam("new_status", type_=String()),
        attempts=d.attempts + 1,
        next_attempt_at=bindparam("next_at", type_=UTCDateTime()),
        leased_until=None,
        lease=None,
        last_attempt_at=bindparam("at", type_=UTCDateTime()),
        last_status_code=bindparam("code", type_=Integer()),
        last_error=bindparam("error", type_=String()),
        last_latency_ms=bindparam("latency", type_=Float()),
        dead_letter_reason=bindparam("reason", type_=String()),
        delivered_at=bindparam("delivered", type_=UTCDateTime()),
    )
)
HOLD_BACK = (
    update(t.deliveries)
    .where(
        d.subscription_id == bindparam("sub"),
        d.subject == bindparam("subj"),
        d.status == PENDING,
        d.event_seq > bindparam("after_seq"),
        d.next_attempt_at < bindparam("next_at", type_=UTCDateTime()),
    )
    .values(next_attempt_at=bindparam("next_at", type_=UTCDateTime()))
)


_s = t.subscriptions.c
_sub: BindParameter[str] = bindparam("sub")
# The subscription's next due deliveries with their events and the subscription itself (its
# columns named `s_…`), in one statement: this runs once per delivery sent.
CLAIM = (
    delivery_select()
    .add_columns(*(column.label(f"s_{column.name}") for column in t.subscriptions.c))
    .join(t.subscriptions, _s.id == d.subscription_id)
    .where(d.subscription_id == _sub, _s.paused.is_(False), DUE)
    .order_by(d.event_seq)
    .limit(select(_s.max_events_per_batch).where(_s.id == _sub).scalar_subquery())
    .with_for_update(skip_locked=True, of=t.deliveries)
)
