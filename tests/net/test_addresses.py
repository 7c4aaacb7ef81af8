"""The network guard's address rules over tables, in-process: which addresses count as public
(every special-purpose range, and every way IPv6 embeds an IPv4 address), how literals are
read, and how allowed networks are parsed and matched. The end-to-end tests prove the guard is
applied to every connection; these prove what it decides (and kill the mutants
``scripts/mutation.py`` found surviving)."""

from __future__ import annotations

import ipaddress

import pytest

from outbound.net.guard import (
    NetworkPolicy,
    _literal,
    address_allowed,
    is_public,
)

NOT_PUBLIC = [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.254",
    "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.254", "0.0.0.0",
    "255.255.255.255", "224.0.0.1", "239.255.255.250", "240.0.0.1", "192.0.2.1",
    "198.51.100.1", "203.0.113.1", "198.18.0.1", "192.0.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "2001:db8::1",
    # IPv6 spellings of internal IPv4 addresses
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::",  # 6to4
    "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1",  # NAT64
    "::7f00:1", "::a00:1",  # deprecated IPv4-compatible
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
]  # fmt: skip

PUBLIC = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.32.0.1",
    "2606:4700:4700::1111", "2001:4860:4860::8888",
    # IPv6 spellings of public IPv4 addresses stand for those addresses
    "::ffff:8.8.8.8", "2002:808:808::", "64:ff9b::808:808", "::808:808",
]  # fmt: skip


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_special_purpose_addresses_are_not_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),  # a zone id is not part of the address
        ("fe80::1%25eth0", "fe80::1"),
        ("::ffff:10.0.0.1", "::ffff:a00:1"),
        ("example.com", None),
        ("127.1", None),  # not a literal here: check_url refuses such spellings itself
        ("", None),
    ],
)
def test_literals_are_read_without_their_zone(host: str, expected: str | None) -> None:
    found = _literal(host)
    assert (str(found) if found is not None else None) == expected


def test_allowed_networks_match_addresses_and_their_ipv6_spellings() -> None:
    policy = NetworkPolicy.parse(" 10.0.0.0/8 ,, fd00::/8,127.0.0.1 ")
    assert [str(net) for net in policy.allow] == ["10.0.0.0/8", "fd00::/8", "127.0.0.1/32"]
    assert str(policy) == "10.0.0.0/8,fd00::/8,127.0.0.1/32"
    assert str(NetworkPolicy.parse("")) == "(public addresses only)"
    inside = ["10.1.2.3", "fd00::5", "127.0.0.1", "::ffff:10.1.2.3", "64:ff9b::a01:203"]
    outside = ["11.0.0.1", "fe80::1", "127.0.0.2", "::ffff:11.0.0.1", "192.168.0.1"]
    for address in inside:
        assert policy.in_allowed_network(ipaddress.ip_address(address)), address
    for address in outside:
        assert not policy.in_allowed_network(ipaddress.ip_address(address)), address


@pytest.mark.parametrize("option", ["--provider-allow-networks", "--webhook-allow-networks"])
def test_a_bad_network_is_refused_naming_the_option(option: str) -> None:
    with pytest.raises(ValueError, match=f"^{option}: 'not-a-net' is not a CIDR network"):
        NetworkPolicy.parse("10.0.0.0/8,not-a-net", option)
    assert NetworkPolicy.parse("10.0.0.0/8", option).option == option


def test_http_goes_only_to_allowed_networks_and_https_also_to_public_addresses() -> None:
    policy = NetworkPolicy.parse("10.0.0.0/8")
    public, allowed, internal = (
        ipaddress.ip_address(a) for a in ("8.8.8.8", "10.0.0.1", "192.168.0.1")
    )
    assert address_allowed(public, policy, scheme="https")
    assert not address_allowed(public, policy, scheme="http")
    assert address_allowed(allowed, policy, scheme="http")
    assert address_allowed(allowed, policy, scheme="https")
    assert not address_allowed(internal, policy, scheme="https")
    assert not address_allowed(internal, policy, scheme="http")
