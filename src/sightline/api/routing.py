"""The route class of every API router: request bodies are parsed by `json_input.loads`, so a
body nested a thousand deep, holding a lone surrogate or `NaN` is a 400 `InvalidJson`, never a
crash further on; and a query parameter that takes one value, given twice
(`?collection=a&collection=b`), is a 400 `InvalidParameter` rather than its last value taken."""

from __future__ import annotations

import types
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from sightline import json_input
from sightline.errors import InvalidParameter

MANY = (list, tuple, set, frozenset)


def takes_many(annotation: Any) -> bool:
    """Whether a parameter of this type takes repeated values (`list[str] | None`: yes)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return takes_many(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(takes_many(part) for part in get_args(annotation))
    return origin in MANY or annotation in MANY


def single_valued_query(dependant: Dependant) -> set[str]:
    """The query parameters of a route and of its dependencies that take one value."""
    names = {
        field.alias
        for field in dependant.query_params
        if not takes_many(field.field_info.annotation)
    }
    for sub in dependant.dependencies:
        names |= single_valued_query(sub)
    return names


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json_input.loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        single = sorted(single_valued_query(self.dependant))

        async def strict(request: Request) -> Response:
            for name in single:
                given = len(request.query_params.getlist(name))
                if given > 1:
                    raise InvalidParameter(f"`{name}` is given {given} times; give it once.")
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
