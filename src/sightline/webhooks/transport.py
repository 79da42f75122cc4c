"""Outbound HTTP for webhooks, refusing to reach the server's own network.

A subscriber chooses the URL, so the URL must not become a way to probe or call services that
only the server can reach. Every connection is made by `VettingBackend`, an httpcore network
backend: it resolves the host, vets every address the name resolves to (loopback, private,
link-local, multicast, reserved and unspecified addresses are refused, also when hidden in IPv6
transition addresses, unless an operator-allowed network holds them) and connects to a vetted
address itself. The check runs at every connection, not once when the subscription is made, so
a name that later resolves somewhere else (DNS rebinding) is still caught; TLS still verifies
the certificate against the host name. httpcore is used directly: no proxy settings are read
from the environment and redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpcore

from sightline import __version__
from sightline.addresses import Address, AddressPolicy, parse_http_url

USER_AGENT = f"Sightline-Webhooks/{__version__}"
KEEPALIVE_SECONDS = 30.0
MAX_BODY_KEPT = 4096  # of an answer: enough for an error message, never a whole download


class DeliveryError(Exception):
    """The request got no HTTP answer: the message says why (connection, timeout…) in words
    for the endpoint's owner, who reads it in the web app and the delivery log: never an
    `[Errno …]` or a setting's name."""


class TargetForbidden(DeliveryError):
    """The endpoint's host is, or resolves to, an address deliveries may not go to."""


class VettingBackend(httpcore.AsyncNetworkBackend):
    """Resolves, vets every address, then connects to a vetted one (see the module docstring)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        if not all(self.policy.allows(address) for address in addresses):
            # The addresses stay unnamed: they would map the internal network for the caller.
            raise TargetForbidden(
                f"{host} is not a public address, and this server does not send webhooks to "
                "its network."
            )
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _resolve never answers no address
        if isinstance(failure, httpcore.ConnectTimeout):
            raise failure
        raise DeliveryError(
            f"Nothing answers at {host} on port {port}: check the address and that the "
            "server is running."
        ) from failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetForbidden("Webhooks go over TCP only.")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[Address]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass  # a name
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"Resolving {host} took too long.") from exc
        except (OSError, UnicodeError) as exc:
            raise DeliveryError(_unknown_host(host)) from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        if not addresses:
            raise DeliveryError(_unknown_host(host))
        return addresses


def _unknown_host(host: str) -> str:
    return f"Can't find the server {host}: check the address."


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]  # lower-case names
    body: bytes  # the first MAX_BODY_KEPT bytes
    latency_ms: float


class WebhookClient:
    """Requests to subscribers' endpoints over kept-alive connections, each within `timeout`
    seconds in all (connecting, sending and reading the answer).

    Each `key` (a subscription: one request at a time) has a connection pool of its own: an
    httpcore pool checks every idle connection it holds before each request, so one shared
    pool would cost every request a check of every subscriber's connection."""

    def __init__(self, policy: AddressPolicy, timeout: float) -> None:
        self.timeout = timeout
        self._backend = VettingBackend(policy)
        self._pools: dict[str, tuple[httpcore.AsyncConnectionPool, float]] = {}

    def _pool(self, key: str) -> httpcore.AsyncConnectionPool:
        pool = self._pools.get(key, (None, 0.0))[0]
        if pool is None:
            pool = httpcore.AsyncConnectionPool(
                network_backend=self._backend,
                max_connections=1,
                keepalive_expiry=KEEPALIVE_SECONDS,
                retries=0,
            )
        self._pools[key] = (pool, time.monotonic())
        return pool

    async def close_idle(self) -> None:
        """Close the pools of keys unused for longer than a connection is kept alive."""
        cutoff = time.monotonic() - KEEPALIVE_SECONDS
        for key, (pool, used) in list(self._pools.items()):
            if used < cutoff and not pool.connections:
                del self._pools[key]
                await pool.aclose()

    async def request(
        self,
        method: str,
        endpoint: str,
        headers: Sequence[tuple[str, str]],
        body: bytes = b"",
        *,
        key: str = "",
    ) -> Answer:
        try:
            url = parse_http_url(endpoint)
        except ValueError as exc:
            raise DeliveryError(str(exc)) from exc
        target = httpcore.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        )
        sent = [("Host", url.netloc.decode("ascii")), ("User-Agent", USER_AGENT), *headers]
        if body or method == "POST":
            sent.append(("Content-Length", str(len(body))))
        limit = self.timeout
        extensions = {"timeout": {"connect": limit, "read": limit, "write": limit, "pool": limit}}
        started = time.perf_counter()
        try:
            # The phases' timeouts bound each read and write; this bounds the whole exchange,
            # so an endpoint trickling its answer byte by byte cannot hold a sender for long.
            async with asyncio.timeout(limit):
                async with self._pool(key).stream(
                    method.encode(),
                    target,
                    headers=[(name.encode(), value.encode()) for name, value in sent],
                    content=body,
                    extensions=extensions,
                ) as response:
                    kept = b""
                    async for chunk in response.aiter_stream():
                        kept += chunk
                        if len(kept) >= MAX_BODY_KEPT:
                            break  # the rest is not read: the connection is closed, not reused
                    answer_headers: dict[str, str] = {}
                    for name, value in response.headers:
                        answer_headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        except DeliveryError:
            raise
        except (TimeoutError, httpcore.TimeoutException) as exc:
            raise DeliveryError(f"No answer within {limit:g} s.") from exc
        except httpcore.ConnectError as exc:
            raise DeliveryError(_connect_failure(url.host, exc)) from exc
        except httpcore.NetworkError as exc:
            raise DeliveryError(f"The connection to {url.host} broke off before an answer.") from (
                exc
            )
        except httpcore.ProtocolError as exc:
            raise DeliveryError(f"{url.host} did not answer in HTTP.") from exc
        return Answer(
            status_code=response.status,
            headers=answer_headers,
            body=kept[:MAX_BODY_KEPT],
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool, _used in pools.values():
            await pool.aclose()


def _connect_failure(host: str, exc: httpcore.ConnectError) -> str:
    """Why a connection made no HTTP exchange possible, in words; connecting itself is worded
    by the backend, so what is left here is TLS."""
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (
            f"The certificate of {host} is not trusted ({cause.verify_message}): the "
            "endpoint needs one from a public certificate authority."
        )
    if isinstance(cause, ssl.SSLError):
        return f"Can't make a secure connection to {host}: does it serve https on that port?"
    return f"Can't connect to {host}."
