"""JSON from clients, parsed strictly: every JSON input (request bodies, metadata, cursors,
storage notifications) goes through `loads`, so none can crash a handler further on.

Refused, as `json.JSONDecodeError` with the reason: nesting deeper than `MAX_DEPTH` (the standard
parser recurses, and a thousand levels overflow the stack), `NaN`, `Infinity` and numbers too
large for a float (they would be stored as null or break serialisation), and strings with lone
surrogates such as `"\\ud800"` (valid JSON escapes, but not Unicode: no UTF-8 encoder takes them).
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32


def loads(text: str | bytes) -> Any:
    """The value of a JSON document, or `json.JSONDecodeError` saying why it is refused."""
    try:
        document = text.decode("utf-8", "surrogatepass") if isinstance(text, bytes) else text
    except UnicodeDecodeError as exc:
        raise _refused(f"not UTF-8 ({exc.reason})", "") from None
    try:
        value = json.loads(document, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise _refused(f"nested deeper than {MAX_DEPTH} levels", document) from None
    _check(value, document)
    return value


def _refuse_constant(name: str) -> Any:
    raise _refused(f"{name} is not a JSON number", name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _refused(f"{text} is too large for a number", text)
    return value


def _check(value: Any, document: str) -> None:
    """Walk the value without recursion: depth and every string (keys too)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item, document)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _refused(f"nested deeper than {MAX_DEPTH} levels", document)
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, document)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)


def _check_text(text: str, document: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _refused("a string holds a lone surrogate (not Unicode)", document) from None


def _refused(reason: str, document: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(reason, document, 0)
