"""Fetch an image by URL for `POST /v1/analyze` without letting callers aim the server at its
own network.

Each hop's host is resolved once, every address it resolves to is vetted (loopback, private,
link-local and other non-public addresses are refused unless the operator allows them, also
when hidden inside IPv6 transition addresses), and the connection goes to the vetted address
itself, so a second DNS answer cannot swap in another one. Redirects are followed by hand, at
most three, each vetted the same way. The whole fetch has one deadline and the body is bounded
by the upload limit; compressed responses are refused rather than inflated.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
import time

import httpx

from sightline.addresses import Address, is_public, parse_http_url
from sightline.errors import ImageTooLarge, InvalidUrl, UrlFetchFailed, UrlNotAllowed

MAX_REDIRECTS = 3
RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")


def fetch_image(url: str, *, max_bytes: int, timeout: float, allow_private: bool) -> bytes:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            target = _parse(url)
            address = _vetted_address(target, allow_private, deadline)
            request = _pinned_request(client, target, address)
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise UrlFetchFailed(f"Fetching {target} failed: {exc}.") from exc
            try:
                if response.is_redirect and "location" in response.headers:
                    url = str(target.join(response.headers["location"]))
                    continue
                if response.status_code >= 400:
                    raise UrlFetchFailed(
                        f"Fetching {target} answered HTTP {response.status_code}.",
                        upstream_status=response.status_code,
                    )
                return _read_bounded(response, max_bytes, deadline)
            except httpx.HTTPError as exc:
                raise UrlFetchFailed(f"Fetching {target} failed: {exc}.") from exc
            finally:
                response.close()
    raise UrlFetchFailed(f"More than {MAX_REDIRECTS} redirects.")


def _parse(url: str) -> httpx.URL:
    try:
        return parse_http_url(url)
    except ValueError as exc:
        raise InvalidUrl(str(exc)) from exc


def _vetted_address(target: httpx.URL, allow_private: bool, deadline: float) -> Address:
    port = target.port or (443 if target.scheme == "https" else 80)
    # getaddrinfo takes no timeout: it runs in a helper thread that is abandoned past the
    # deadline (it ends on its own once the resolver gives up).
    lookup = RESOLVER.submit(socket.getaddrinfo, target.host, port, proto=socket.IPPROTO_TCP)
    try:
        infos = lookup.result(timeout=max(deadline - time.monotonic(), 0.0))
    except concurrent.futures.TimeoutError as exc:
        raise UrlFetchFailed(f"Resolving {target.host} took longer than allowed.") from exc
    except UnicodeError as exc:
        raise InvalidUrl(f"Not a valid host name: {target.host!r}.") from exc
    except OSError as exc:
        raise UrlFetchFailed(f"Cannot resolve {target.host}.") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not allow_private and not all(is_public(address) for address in addresses):
        # The message names no address: it would tell callers about the internal network.
        raise UrlNotAllowed(
            f"{target.host} is not a public address; fetching it is disabled "
            "(SIGHTLINE_FETCH_ALLOW_PRIVATE)."
        )
    return addresses[0]


def _pinned_request(client: httpx.Client, target: httpx.URL, address: Address) -> httpx.Request:
    """A request to the vetted address that still names the host (Host header, TLS SNI and
    certificate check), so virtual hosts and HTTPS work as with the name."""
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return client.build_request(
        "GET",
        target.copy_with(host=str(address)),
        headers={
            "Host": target.netloc.decode("ascii"),
            "Accept": "image/*",
            "Accept-Encoding": "identity",
        },
        extensions=extensions,
    )


def _read_bounded(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UrlFetchFailed(f"The response is {encoding}-encoded; send the image as is.")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ImageTooLarge(f"The URL's file has {declared} bytes; the limit is {max_bytes}.")
    chunks, size = [], 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > max_bytes:
            raise ImageTooLarge(f"The URL's file has more than {max_bytes} bytes.")
        if time.monotonic() > deadline:
            raise UrlFetchFailed("Fetching the URL took longer than allowed.")
        chunks.append(chunk)
    return b"".join(chunks)
