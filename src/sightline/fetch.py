"""Fetch an image by URL for `POST /v1/analyze`, refusing to be turned against the server's
own network: loopback, private, link-local and other non-public addresses are refused unless
the operator allows them, on every redirect hop, and the body is bounded in time and size."""

from __future__ import annotations

import ipaddress
import socket

import httpx

from sightline.errors import ImageTooLarge, InvalidUrl, UrlFetchFailed, UrlNotAllowed

MAX_REDIRECTS = 3


def fetch_image(url: str, *, max_bytes: int, timeout: float, allow_private: bool) -> bytes:
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            target = _checked(url, allow_private)
            try:
                with client.stream("GET", target, headers={"Accept": "image/*"}) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = str(target.join(response.headers["location"]))
                        continue
                    if response.status_code >= 400:
                        raise UrlFetchFailed(
                            f"Fetching {target} answered HTTP {response.status_code}.",
                            upstream_status=response.status_code,
                        )
                    return _read_bounded(response, max_bytes)
            except httpx.HTTPError as exc:
                raise UrlFetchFailed(f"Fetching {target} failed: {exc}.") from exc
    raise UrlFetchFailed(f"More than {MAX_REDIRECTS} redirects.")


def _checked(url: str, allow_private: bool) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidUrl(f"Not a valid URL: {exc}.") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidUrl("The URL must be absolute and use http or https.")
    if not allow_private:
        for address in _addresses(parsed.host, parsed.port or 443):
            if not address.is_global:
                raise UrlNotAllowed(
                    f"{parsed.host} resolves to a non-public address ({address}); fetching it "
                    "is disabled (SIGHTLINE_FETCH_ALLOW_PRIVATE).",
                )
    return parsed


def _addresses(host: str, port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise UrlFetchFailed(f"Cannot resolve {host}: {exc}.") from exc
    return {ipaddress.ip_address(info[4][0]) for info in infos}


def _read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ImageTooLarge(f"The URL's file has {declared} bytes; the limit is {max_bytes}.")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ImageTooLarge(f"The URL's file has more than {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
