"""What the commands that talk to a running server share: its address, the API key, the
collection, and errors turned into one-line messages with the documented exit statuses."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import click
import httpx

from sightline.client import ApiError, Client
from sightline.collection import collection_name
from sightline.errors import InvalidCollection

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# The exit statuses every command keeps (README "Command line", `sightline --help`); 2 is
# click's own for a usage error.
REFUSED = 1
UNREACHABLE = 3


def _collection(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else collection_name(value)
    except InvalidCollection as exc:
        raise click.BadParameter(exc.message) from None


collection_option = click.option(
    "--collection",
    envvar="SIGHTLINE_COLLECTION",
    default=None,
    callback=_collection,
    help="Read and create in this collection only. Default: a collection-bound key's; "
    "otherwise reads see every collection and uploads go to `default` "
    "[env: SIGHTLINE_COLLECTION].",
)

vectors_option = click.option(
    "--vectors",
    is_flag=True,
    help="Keep the numbers of vector results (`embedding`, `semantic`; about 20 KB an image), "
    "left out by default.",
)


@dataclass(frozen=True)
class Server:
    """Where a command's requests go: the server's address, the API key and the collection."""

    url: str
    api_key: str | None = None
    collection: str | None = None

    def client(self, *, timeout: float = 60.0) -> Client:
        return Client(self.url, api_key=self.api_key, collection=self.collection, timeout=timeout)


def server_options(command: F) -> F:
    """`--url`, `--api-key` and `--collection` (and their variables), given to the command
    as `server`: for commands that make clients of their own (one per thread)."""

    @functools.wraps(command)
    def with_server(
        *args: Any, url: str, api_key: str | None, collection: str | None, **kwargs: Any
    ) -> Any:
        return command(*args, server=Server(url, api_key, collection), **kwargs)

    options = [
        click.option(
            "--url",
            envvar="SIGHTLINE_URL",
            default="http://127.0.0.1:8080",
            show_default=True,
            help="Server base URL [env: SIGHTLINE_URL].",
        ),
        click.option(
            "--api-key",
            envvar="SIGHTLINE_API_KEY",
            default=None,
            help="API key [env: SIGHTLINE_API_KEY].",
        ),
        collection_option,
    ]
    for option in reversed(options):
        with_server = option(with_server)
    return cast(F, with_server)


def client_options(command: F) -> F:
    """`server_options`, given to the command as `client`: a `Client` for that server,
    closed when the command ends."""

    @functools.wraps(command)
    def with_client(*args: Any, server: Server, **kwargs: Any) -> Any:
        client = server.client()
        click.get_current_context().with_resource(client)
        return command(*args, client=client, **kwargs)

    return cast(F, server_options(with_client))


PAGE = 200  # the most `GET /v1/images` answers at once


def images_of(
    client: Client, limit: int | None = None, *, page_size: int = PAGE, **params: Any
) -> Iterator[Mapping[str, Any]]:
    """The images `GET /v1/images` lists with `params` (filters, `results`,
    `include_vectors`), newest first, a page at a time (`limit` of them, or all). The
    client's errors come as they are: `call` what reads them for one-line messages."""
    cursor = None
    left = limit
    while left is None or left > 0:
        size = page_size if left is None else min(left, page_size)
        page = client.list(cursor=cursor, limit=size, **params)
        yield from page["items"]
        if left is not None:
            left -= len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return


class Unreachable(click.ClickException):
    exit_code = UNREACHABLE


def call(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)`, with the server's refusals (exit status 1) and an
    unreachable server (exit status 3) reported in one line instead of a traceback."""
    try:
        return function(*args, **kwargs)
    except ApiError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except httpx.TransportError as exc:
        raise Unreachable(
            f"Cannot reach the server at {_address(exc)}: {_reason(exc)}. Is it running? "
            "--url or SIGHTLINE_URL names it."
        ) from exc
    except (httpx.HTTPError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc


def _address(exc: httpx.TransportError) -> str:
    try:
        return str(exc.request.url.copy_with(query=None, path="/"))
    except RuntimeError:  # an error raised before any request was made
        return "the given URL"


def _reason(exc: httpx.TransportError) -> str:
    """The operating system's words without their `[Errno -2]` prefix."""
    text = re.sub(r"\[Errno -?\d+\]\s*", "", str(exc)).strip()
    if text:
        return text
    return "no answer in time" if isinstance(exc, httpx.TimeoutException) else "no connection"
