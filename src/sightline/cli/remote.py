"""What the commands that talk to a running server share: its address, the API key, and
errors turned into one-line messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
import httpx

from sightline.client import ApiError

P = ParamSpec("P")
T = TypeVar("T")

url_option = click.option(
    "--url",
    envvar="SIGHTLINE_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Server base URL [env: SIGHTLINE_URL].",
)
key_option = click.option(
    "--api-key", envvar="SIGHTLINE_API_KEY", default=None, help="API key [env: SIGHTLINE_API_KEY]."
)

vectors_option = click.option(
    "--vectors",
    is_flag=True,
    help="Keep the numbers of vector results (`embedding`, `semantic`; about 20 KB an image), "
    "left out by default.",
)


def call(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)`, with the server's refusals and an unreachable server
    reported as a command error (exit status 1) instead of a traceback."""
    try:
        return function(*args, **kwargs)
    except ApiError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except httpx.HTTPError as exc:
        raise click.ClickException(f"Cannot reach the server: {exc}") from exc
