"""Which events a subscription wants: those of its collection (when it was made for one), then
event types, subject prefix and suffix, and filters on any field of the CloudEvents envelope
(`data.filename`, `data.metadata.album`, `type`…).

Every condition given must hold. Strings compare case-insensitively, except the collection,
which is exactly the envelope's `collection` attribute. A filter on a field holding a list
matches when any item does; a missing field matches no filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sightline.errors import InvalidParameter
from sightline.events import COLLECTION_ATTRIBUTE, EventType
from sightline.storage.records import JSON
from sightline.webhooks.store import SubscriptionRecord

OPERATORS = ("in", "begins_with", "ends_with")
MAX_FILTERS = 25
MAX_VALUES = 25
MAX_KEY_LENGTH = 256
MAX_VALUE_LENGTH = 1024
Scalar = str | int | float | bool


def matches(subscription: SubscriptionRecord, envelope: JSON) -> bool:
    if (
        subscription.collection is not None
        and envelope.get(COLLECTION_ATTRIBUTE) != subscription.collection
    ):
        return False
    if subscription.event_types and envelope.get("type") not in subscription.event_types:
        return False
    subject = str(envelope.get("subject") or "").casefold()
    if subscription.subject_begins_with and not subject.startswith(
        subscription.subject_begins_with.casefold()
    ):
        return False
    if subscription.subject_ends_with and not subject.endswith(
        subscription.subject_ends_with.casefold()
    ):
        return False
    return all(_holds(condition, envelope) for condition in subscription.data_filters)


def check_event_types(event_types: Sequence[str]) -> list[str]:
    known = {str(event_type) for event_type in EventType}
    unknown = [name for name in event_types if name not in known]
    if unknown:
        raise InvalidParameter(f"Unknown event types: {', '.join(unknown)}.", allowed=sorted(known))
    return list(dict.fromkeys(event_types))


def check_filters(filters: Sequence[JSON]) -> list[JSON]:
    """The filters in their stored form, or InvalidParameter saying what is wrong."""
    if len(filters) > MAX_FILTERS:
        raise InvalidParameter(f"At most {MAX_FILTERS} data filters.")
    checked = []
    for index, condition in enumerate(filters):
        where = f"data_filters[{index}]"
        if not isinstance(condition, dict):
            raise InvalidParameter(f"{where} must be an object: key, operator and values.")
        key, operator, values = (
            condition.get("key"),
            condition.get("operator"),
            condition.get("values"),
        )
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidParameter(
                f"{where}.key must be a dotted path such as data.filename "
                f"(1-{MAX_KEY_LENGTH} characters)."
            )
        if operator not in OPERATORS:
            raise InvalidParameter(
                f"{where}.operator must be one of {', '.join(OPERATORS)}.", allowed=OPERATORS
            )
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_VALUES:
            raise InvalidParameter(f"{where}.values must be a list of 1 to {MAX_VALUES} values.")
        for value in values:
            if operator != "in" and not isinstance(value, str):
                raise InvalidParameter(f"{where}: {operator} compares strings only.")
            if not isinstance(value, Scalar) or len(str(value)) > MAX_VALUE_LENGTH:
                raise InvalidParameter(
                    f"{where}.values holds strings, numbers or booleans "
                    f"(at most {MAX_VALUE_LENGTH} characters)."
                )
        checked.append({"key": key, "operator": operator, "values": list(values)})
    return checked


def _holds(condition: JSON, envelope: JSON) -> bool:
    found, value = _lookup(envelope, condition["key"])
    if not found or value is None:
        return False
    items = value if isinstance(value, list) else [value]
    return any(_item_matches(condition["operator"], item, condition["values"]) for item in items)


def _lookup(envelope: JSON, key: str) -> tuple[bool, Any]:
    value: Any = envelope
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _item_matches(operator: str, item: Any, values: list[Scalar]) -> bool:
    if operator == "in":
        return any(_equal(item, value) for value in values)
    if not isinstance(item, str):
        return False
    text = item.casefold()
    if operator == "begins_with":
        return any(text.startswith(str(value).casefold()) for value in values)
    return any(text.endswith(str(value).casefold()) for value in values)


def _equal(item: Any, value: Scalar) -> bool:
    if isinstance(item, str) and isinstance(value, str):
        return item.casefold() == value.casefold()
    if isinstance(item, bool) or isinstance(value, bool):
        return item is value  # True is not 1
    if isinstance(item, int | float) and isinstance(value, int | float):
        return item == value
    return False
