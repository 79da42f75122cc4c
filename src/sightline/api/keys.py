"""`/v1/keys`: make, list and revoke stored API keys (admin keys only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, Field

from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import RequestBody
from sightline.collection import MAX_LENGTH, RULE
from sightline.errors import InvalidCollection, InvalidParameter, KeyNotFound
from sightline.keys import KeyRecord, KeyService, Scope
from sightline.keys.service import MAX_NAME_LENGTH

router = APIRouter(prefix="/v1/keys", tags=["keys"], route_class=StrictJSONRoute)
Keys = Annotated[KeyService, deps.part("keys")]


class KeyIn(RequestBody):
    model_config = examples(shown.KEY_IN)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Who or what uses it.")
    scope: Scope = Field(
        Scope.READ,
        strict=False,
        description="`read` (GET and HEAD), `write` (every method) or `admin` (also keys, "
        "subscriptions and publishing classifiers).",
    )
    expires_at: AwareDatetime | None = Field(
        None, strict=False, description="When it stops working (RFC 3339 with a zone); never: null."
    )
    collection: str | None = Field(
        None,
        max_length=MAX_LENGTH,
        description=f"Bind the key to this collection ({RULE}): it sees and changes only that "
        "collection, and cannot manage keys. Null: every collection.",
    )


class KeyOut(BaseModel):
    model_config = examples(shown.KEY)

    id: str
    name: str
    scope: Scope
    prefix: str = Field(description="The secret's first characters, to recognise it by.")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None
    collection: str | None = Field(description="The one collection it reaches; null: every one.")

    @classmethod
    def of(cls, record: KeyRecord) -> KeyOut:
        return cls(
            id=record.id,
            name=record.name,
            scope=record.scope,
            prefix=record.prefix,
            created_at=record.created_at,
            expires_at=record.expires_at,
            last_used_at=record.last_used_at,
            revoked_at=record.revoked_at,
            collection=record.collection,
        )


class NewKeyOut(KeyOut):
    model_config = examples(shown.NEW_KEY)

    secret: str = Field(description="The key itself: shown in this answer only, never again.")


class KeyList(BaseModel):
    model_config = examples(shown.KEYS)

    items: list[KeyOut]


class SessionsEnded(BaseModel):
    model_config = examples(shown.SESSIONS_ENDED)

    ended: int = Field(description="Browser sessions ended.")


@router.post(
    "",
    status_code=201,
    response_model=NewKeyOut,
    responses=documented(InvalidParameter, InvalidCollection),
    summary="Make an API key; the answer is the only one that shows its secret",
)
def create_key(body: KeyIn, keys: Keys, response: Response) -> Any:
    made = keys.create(body.name, body.scope, body.expires_at, body.collection)
    response.headers["Location"] = f"/v1/keys/{made.record.id}"
    return NewKeyOut(**KeyOut.of(made.record).model_dump(), secret=made.secret)


@router.get("", response_model=KeyList, summary="Stored keys, oldest first")
def list_keys(keys: Keys) -> Any:
    """Revoked keys stay listed. Keys of SIGHTLINE_API_KEYS are not stored and not listed."""
    return KeyList(items=[KeyOut.of(record) for record in keys.list_keys()])


@router.get(
    "/{key_id}", response_model=KeyOut, responses=documented(KeyNotFound), summary="A stored key"
)
def get_key(key_id: str, keys: Keys) -> Any:
    return KeyOut.of(keys.get(key_id))


@router.delete(
    "/{key_id}",
    status_code=204,
    responses=documented(KeyNotFound),
    summary="Revoke a key at once, ending its browser sessions",
)
def revoke_key(key_id: str, keys: Keys) -> Response:
    keys.revoke(key_id)
    return Response(status_code=204)


@router.delete(
    "/{key_id}/sessions",
    response_model=SessionsEnded,
    responses=documented(KeyNotFound),
    summary="Sign out every browser signed in with this key; the key keeps working",
)
def end_sessions(key_id: str, keys: Keys) -> Any:
    return SessionsEnded(ended=keys.end_sessions(key_id))
