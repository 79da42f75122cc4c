"""`Client` and `AsyncClient`: the same calls (operations.py), run over a sync or an async
httpx client. Only `_run` and the iterators differ between the two."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

import httpx

from sightline.client import operations
from sightline.client.exchange import Operation, Pause, Retry
from sightline.client.models import Image

P = ParamSpec("P")
T = TypeVar("T")


class Endpoint(Generic[P, T]):
    """A call of both clients: `client.get(…)` returns the image on a `Client`, a coroutine
    giving it on an `AsyncClient`."""

    def __init__(self, operation: Callable[Concatenate[Retry, P], Operation[T]]) -> None:
        self.operation = operation
        self.__doc__ = operation.__doc__
        # What help() and IDEs show: the call's own parameters, without the retry policy.
        whole = inspect.signature(operation)
        self.signature = whole.replace(
            parameters=[*whole.parameters.values()][1:], return_annotation=whole.empty
        )

    @overload
    def __get__(self, client: None, owner: type) -> Self: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, client: Client, owner: type) -> Callable[P, T]: ...
    def __get__(self, client: Base | None, owner: type) -> Any:
        if client is None:
            return self
        operation = self.operation

        @functools.wraps(operation)
        def call(*args: P.args, **kwargs: P.kwargs) -> Any:
            return client._run(operation(client.retry, *args, **kwargs))

        call.__signature__ = self.signature  # type: ignore[attr-defined]
        return call


class Base:
    """What both clients share: their settings and calls."""

    def __init__(
        self, base_url: str, api_key: str | None, collection: str | None, retries: int | Retry
    ) -> None:
        self.retry = retries if isinstance(retries, Retry) else Retry(retries=retries)
        self._options: dict[str, Any] = {
            "base_url": base_url,
            "headers": {"Authorization": f"Bearer {api_key}"} if api_key else {},
            "params": {"collection": collection} if collection else {},
        }

    def _run(self, operation: Operation[Any]) -> Any:
        raise NotImplementedError

    # -- images
    upload = Endpoint(operations.upload)
    upload_many = Endpoint(operations.upload_many)
    get = Endpoint(operations.get)
    wait = Endpoint(operations.wait)
    wait_all = Endpoint(operations.wait_all)
    list = Endpoint(operations.list_images)
    delete = Endpoint(operations.delete)
    create_upload = Endpoint(operations.create_upload)
    upload_status = Endpoint(operations.upload_status)
    reprocess = Endpoint(operations.reprocess)
    content = Endpoint(operations.content)
    thumbnail = Endpoint(operations.thumbnail)
    duplicates = Endpoint(operations.duplicates)
    similar = Endpoint(operations.similar)
    search = Endpoint(operations.search)
    # -- custom classifiers
    create_classifier = Endpoint(operations.create_classifier)
    classifier = Endpoint(operations.classifier)
    classifiers = Endpoint(operations.classifiers)
    update_classifier = Endpoint(operations.update_classifier)
    delete_classifier = Endpoint(operations.delete_classifier)
    add_examples = Endpoint(operations.add_examples)
    upload_examples = Endpoint(operations.upload_examples)
    examples = Endpoint(operations.examples)
    remove_examples = Endpoint(operations.remove_examples)
    train = Endpoint(operations.train)
    version = Endpoint(operations.version)
    wait_for_version = Endpoint(operations.wait_for_version)
    publish = Endpoint(operations.publish)
    predict = Endpoint(operations.predict)
    export = Endpoint(operations.export)
    backfill = Endpoint(operations.backfill)
    # -- event subscriptions
    create_subscription = Endpoint(operations.create_subscription)
    subscriptions = Endpoint(operations.subscriptions)
    subscription = Endpoint(operations.subscription)
    update_subscription = Endpoint(operations.update_subscription)
    delete_subscription = Endpoint(operations.delete_subscription)
    deliveries = Endpoint(operations.deliveries)
    delivery_attempts = Endpoint(operations.delivery_attempts)
    redeliver = Endpoint(operations.redeliver)
    redeliver_all = Endpoint(operations.redeliver_all)


class Client(Base):
    """A synchronous client. With `collection`, every request reads and creates in that
    collection only; `retries` (a count, or a `Retry`) says how failed requests are sent
    again."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        api_key: str | None = None,
        collection: str | None = None,
        timeout: float = 60.0,
        retries: int | Retry = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, collection, retries)
        self._http = httpx.Client(timeout=timeout, transport=transport, **self._options)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def iter_images(self, **filters: Any) -> Iterator[Image]:
        """Every image matching the filters, following cursors page by page."""
        cursor = None
        while True:
            page = self.list(cursor=cursor, **filters)
            yield from page.items
            cursor = page.next_cursor
            if not cursor:
                return

    def _run(self, operation: Operation[T]) -> T:
        outcome: Any = None
        failure: httpx.TransportError | None = None
        while True:
            try:
                step = operation.throw(failure) if failure else operation.send(outcome)
            except StopIteration as stop:
                result: T = stop.value
                return result
            outcome, failure = None, None
            if isinstance(step, Pause):
                time.sleep(step.seconds)
                continue
            try:
                outcome = self._http.send(step.request(self._http))
            except httpx.TransportError as error:
                failure = error


class AsyncClient(Base):
    """The asynchronous client: `Client`'s calls, awaited (`await client.get(id)`)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        api_key: str | None = None,
        collection: str | None = None,
        timeout: float = 60.0,
        retries: int | Retry = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, collection, retries)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, **self._options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def iter_images(self, **filters: Any) -> AsyncIterator[Image]:
        """Every image matching the filters, following cursors page by page."""
        cursor = None
        while True:
            page = await self.list(cursor=cursor, **filters)
            for image in page.items:
                yield image
            cursor = page.next_cursor
            if not cursor:
                return

    async def _run(self, operation: Operation[T]) -> T:
        outcome: Any = None
        failure: httpx.TransportError | None = None
        while True:
            try:
                step = operation.throw(failure) if failure else operation.send(outcome)
            except StopIteration as stop:
                result: T = stop.value
                return result
            outcome, failure = None, None
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
                continue
            try:
                outcome = await self._http.send(step.request(self._http))
            except httpx.TransportError as error:
                failure = error
