"""Outbound webhook HTTP: which addresses are refused, checked when connecting (so a name that
resolves to loopback is caught too), no redirects or proxies, and one time limit."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from sightline.addresses import AddressPolicy
from sightline.settings import parse_networks
from sightline.webhooks.transport import (
    Answer,
    DeliveryError,
    TargetForbidden,
    WebhookClient,
)
from webhooks.receiver import Receiver, Reply

LOOPBACK = AddressPolicy(parse_networks("127.0.0.0/8,::1/128"))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "169.254.169.254",  # link-local: cloud metadata services
        "0.0.0.0",  # unspecified
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",  # unique local
        "ff02::1",
        "2001:db8::1",  # documentation
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not AddressPolicy().allows(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().allows(ipaddress.ip_address(address))


def test_allowed_networks_open_exactly_themselves() -> None:
    assert LOOPBACK.allows(ipaddress.ip_address("127.0.0.5"))
    assert LOOPBACK.allows(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert LOOPBACK.allows(ipaddress.ip_address("::1"))
    assert not LOOPBACK.allows(ipaddress.ip_address("10.0.0.1"))
    assert not LOOPBACK.allows(ipaddress.ip_address("fe80::1"))


def post(policy: AddressPolicy, url: str, timeout: float = 5.0) -> Answer:
    async def send() -> Answer:
        client = WebhookClient(policy, timeout)
        try:
            return await client.request("POST", url, [("Content-Type", "text/plain")], b"hi")
        finally:
            await client.aclose()

    return asyncio.run(send())


def test_loopback_is_refused_when_connecting_and_nothing_is_sent(receiver: Receiver) -> None:
    with pytest.raises(TargetForbidden, match="not a public address"):
        post(AddressPolicy(), receiver.url)
    assert receiver.requests == []
    assert post(LOOPBACK, receiver.url).status_code == 200
    assert [request.body for request in receiver.requests] == [b"hi"]


def test_a_name_that_resolves_to_loopback_is_refused(receiver: Receiver) -> None:
    with pytest.raises(TargetForbidden, match="localhost"):
        post(AddressPolicy(), f"http://localhost:{receiver.port}/hook")
    assert receiver.requests == []
    assert post(LOOPBACK, f"http://localhost:{receiver.port}/hook").status_code == 200


def test_ipv6_loopback_is_refused() -> None:
    with pytest.raises(TargetForbidden):
        post(AddressPolicy(), "http://[::1]:9/hook")


def test_redirects_are_answers_not_followed() -> None:
    with Receiver(lambda _r: Reply(302, {"Location": "http://127.0.0.1:9/elsewhere"})) as receiver:
        answer = post(LOOPBACK, receiver.url)
    assert answer.status_code == 302
    assert answer.headers["location"] == "http://127.0.0.1:9/elsewhere"


def test_proxy_settings_in_the_environment_are_ignored(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    assert post(LOOPBACK, receiver.url).status_code == 200


def test_one_time_limit_covers_the_whole_request() -> None:
    with Receiver(lambda _r: Reply(200, delay=1.0)) as receiver:
        with pytest.raises(DeliveryError, match="No answer within 0.3 s"):
            post(LOOPBACK, receiver.url, timeout=0.3)


def test_a_closed_port_is_a_connection_error() -> None:
    with Receiver() as receiver:
        url = receiver.url
    port = url.split(":")[2].split("/")[0]
    with pytest.raises(DeliveryError) as refused:
        post(LOOPBACK, url)
    assert str(refused.value) == (
        f"Nothing answers at 127.0.0.1 on port {port}: check the address and that the server "
        "is running."
    )


def test_a_host_that_cannot_be_found_is_said_in_words() -> None:
    with pytest.raises(DeliveryError) as unknown:
        post(LOOPBACK, "http://example.invalid/hook")
    assert str(unknown.value) == "Can't find the server example.invalid: check the address."


def test_only_http_urls() -> None:
    with pytest.raises(DeliveryError, match="http or https"):
        post(LOOPBACK, "ftp://127.0.0.1/hook")
