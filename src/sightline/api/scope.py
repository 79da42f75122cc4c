"""Which collections a request may see: its scope, resolved once per request by
`collection_scope`, and the `collection` query parameter every route reads through it.

A caller bound to a collection (the authentication sets `request.state.collection`) sees only
that collection: what it lists, searches, streams and reads by id, and where what it creates
goes. Naming another collection is refused with 403 `CollectionForbidden`, never widened. A
caller bound to none sees every collection, and may name one with `collection=` to read only
that one or to create there; what it creates without naming one goes to `default`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from sightline.collection import DEFAULT_COLLECTION, MAX_LENGTH, RULE, collection_name
from sightline.errors import CollectionForbidden


@dataclass(frozen=True)
class CollectionScope:
    bound: str | None = None  # the one collection the caller may see; None: every one

    def read(self, requested: str | None) -> str | None:
        """The collection reads are restricted to (None: every one), for a request that asked
        for `requested`."""
        if requested is None:
            return self.bound
        name = collection_name(requested)
        if self.bound is not None and name != self.bound:
            raise CollectionForbidden(
                f"This API key is bound to the collection {self.bound!r}: it cannot reach "
                f"{name!r}.",
                collection=self.bound,
            )
        return name

    def write(self, requested: str | None) -> str:
        """The collection something new goes to, for a request that asked for `requested`."""
        return self.read(requested) or DEFAULT_COLLECTION


def scope_of(request: Request) -> CollectionScope:
    """The request's scope: the one seam the authentication binds a caller through."""
    return CollectionScope(getattr(request.state, "collection", None))


async def collection_scope(request: Request) -> CollectionScope:
    """`scope_of` as a dependency. It and the others here are async because they do no I/O:
    see `deps.part`."""
    return scope_of(request)


CollectionParameter = Annotated[
    str | None,
    Query(
        max_length=MAX_LENGTH,
        description=f"A collection ({RULE}). Reads see only its images, classifiers, events and "
        "subscriptions; what is created goes there (default: `default`). A key bound to a "
        "collection may only name its own (403 `CollectionForbidden`); its reads and writes "
        "stay in it either way.",
    ),
]


async def read_collection(
    scope: Annotated[CollectionScope, Depends(collection_scope)],
    collection: CollectionParameter = None,
) -> str | None:
    return scope.read(collection)


async def write_collection(
    scope: Annotated[CollectionScope, Depends(collection_scope)],
    collection: CollectionParameter = None,
) -> str:
    return scope.write(collection)


async def no_collection(scope: Annotated[CollectionScope, Depends(collection_scope)]) -> None:
    """For routes that act on the server as a whole, which a bound caller may not reach."""
    if scope.bound is not None:
        raise CollectionForbidden(
            f"This API key is bound to the collection {scope.bound!r}: this route serves "
            "every collection.",
            collection=scope.bound,
        )


# What a route takes: the collection its reads are restricted to (None: every one), or the one
# what it creates goes to.
ReadCollection = Annotated[str | None, Depends(read_collection)]
WriteCollection = Annotated[str, Depends(write_collection)]
