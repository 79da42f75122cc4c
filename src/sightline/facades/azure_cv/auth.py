"""The service's key header, `Ocp-Apim-Subscription-Key`, carrying a Sightline API key: the
key's scope applies as on `/v1` (analysing is a POST, as `POST /v1/analyze`: write; polling a
Read result is a GET: read), and so do the wrong-key, rate and concurrency limits. While the
API is open (no key configured), so is the facade."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request

from sightline.api import deps
from sightline.api.auth import admitted, check_key, required_scope
from sightline.errors import Unauthorized

KEY_HEADER = "ocp-apim-subscription-key"
# What Azure's gateway says, so that code matching on it keeps working.
ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)


def subscription_key(request: Request) -> Iterator[None]:
    if not deps.services(request).keys.auth_required():
        yield
        return
    given = request.headers.get(KEY_HEADER, "")
    if not given:
        raise Unauthorized(ACCESS_DENIED)
    try:
        principal = check_key(request, given)
    except Unauthorized as exc:
        raise Unauthorized(ACCESS_DENIED) from exc
    request.state.collection = principal.collection  # read by `api.scope.collection_scope`
    # Scopes by method, as /v1's routes of the same kind (the path never names an admin route).
    yield from admitted(request, principal, required_scope(request.method, request.url.path))
