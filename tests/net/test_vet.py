"""What ``vet`` and ``check_url`` tell an operator, in-process: each refusal is the right kind
(an address refusal says which option would allow it; plain http says to use https), names
the field, and a name that does not resolve is handled as the caller asked. The DNS answers
come from a resolver the test controls."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from outbound.net.guard import (
    AddressRefused,
    NetworkPolicy,
    UnsafeURL,
    check_url,
    is_private_name,
    vet,
)

WEBHOOKS = NetworkPolicy((), "--webhook-allow-networks")
LAN = NetworkPolicy.parse("10.0.0.0/8,fd00::/8", "--webhook-allow-networks")
TABLE = {
    "public.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
    "internal.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.216.34", "192.168.0.1"],
    "printer.local": ["10.9.9.9"],
    "both.local": ["10.9.9.9", "8.8.8.8"],
    "garbage.example.com": ["not-an-address", "93.184.216.34"],
}


async def resolve(host: str, port: int) -> list[str]:
    if host == "slow.example.com":
        await asyncio.sleep(30)
    if host not in TABLE:
        raise socket.gaierror(socket.EAI_NONAME, "unknown")
    return TABLE[host]


def run_vet(url: str, policy: NetworkPolicy = WEBHOOKS, **options: object):  # type: ignore[no-untyped-def]
    return asyncio.run(vet(url, policy, field="url", resolve=resolve, **options))  # type: ignore[arg-type]


def test_a_public_https_url_passes_with_every_address() -> None:
    host, port, addresses = run_vet("https://Public.Example.com./hook")
    assert (host, port) == ("public.example.com", 443)
    assert addresses == [
        ipaddress.ip_address("93.184.216.34"),
        ipaddress.ip_address("2606:2800:220:1::1"),
    ]
    assert run_vet("https://public.example.com:8443/")[1] == 8443
    # an answer that is no address is dropped, not trusted
    assert run_vet("https://garbage.example.com/")[2] == [ipaddress.ip_address("93.184.216.34")]


@pytest.mark.parametrize(
    "url, what",
    [
        ("https://internal.example.com/", "'internal.example.com' resolves to a loopback"),
        ("https://mixed.example.com/", "'mixed.example.com' resolves to a loopback"),
        ("https://10.0.0.1/", "'10.0.0.1' is a loopback"),
        ("https://[::1]/", "'::1' is a loopback"),
    ],
)
def test_an_internal_address_is_refused_naming_the_option_that_allows_it(
    url: str, what: str
) -> None:
    with pytest.raises(AddressRefused) as refused:
        run_vet(url)
    assert str(refused.value).startswith(f"url: {what}")
    assert "allow its network with --webhook-allow-networks" in str(refused.value)


def test_plain_http_to_a_public_host_is_told_to_use_https() -> None:
    with pytest.raises(UnsafeURL) as refused:
        run_vet("http://public.example.com/")
    assert not isinstance(refused.value, AddressRefused)
    assert str(refused.value) == (
        "url: plain http is allowed only inside --webhook-allow-networks; use an https URL"
    )


def test_plain_http_and_private_names_pass_inside_the_allowed_networks() -> None:
    assert run_vet("http://internal.example.com/", LAN)[0:2] == ("internal.example.com", 80)
    assert run_vet("http://10.0.0.1:8080/", LAN)[2] == [ipaddress.ip_address("10.0.0.1")]
    assert run_vet("https://printer.local/", LAN)[2] == [ipaddress.ip_address("10.9.9.9")]
    # a private name must resolve inside the allowed networks only
    with pytest.raises(AddressRefused, match=r"^url: 'both\.local' is not a public host name$"):
        run_vet("https://both.local/", LAN)


def test_a_private_name_is_refused_even_when_it_does_not_resolve() -> None:
    for url in ("https://nothing.internal/", "https://intranet/"):
        for unresolvable_ok in (False, True):
            with pytest.raises(
                AddressRefused,
                match="is not a public host name; allow its network with --webhook-allow-networks",
            ):
                run_vet(url, unresolvable_ok=unresolvable_ok)


def test_a_name_that_does_not_resolve_is_an_error_unless_the_caller_allows_it() -> None:
    with pytest.raises(OSError, match=r"^nowhere\.example\.com does not resolve$"):
        run_vet("https://nowhere.example.com/")
    assert run_vet("https://nowhere.example.com/x", unresolvable_ok=True) == (
        "nowhere.example.com",
        443,
        [],
    )
    with pytest.raises(UnsafeURL) as refused:
        run_vet("http://nowhere.example.com/", unresolvable_ok=True)
    assert not isinstance(refused.value, AddressRefused)
    assert "plain http is allowed only inside --webhook-allow-networks" in str(refused.value)
    assert "'nowhere.example.com' does not resolve" in str(refused.value)


def test_a_resolver_that_hangs_counts_as_no_answer() -> None:
    with pytest.raises(OSError, match="does not resolve"):
        run_vet("https://slow.example.com/", timeout=0.05)


def test_the_field_is_named_in_every_refusal() -> None:
    with pytest.raises(UnsafeURL, match=r"^tokenUrl: "):
        asyncio.run(vet("https://10.0.0.1/", WEBHOOKS, field="tokenUrl", resolve=resolve))
    with pytest.raises(UnsafeURL, match=r"^tokenUrl: "):
        check_url("ftp://x.example/", field="tokenUrl")


@pytest.mark.parametrize(
    "url, message",
    [
        (
            "https://a.example/ x",
            "the URL contains a backslash, white space or a control character",
        ),
        (
            "https://a.example/\x00",
            "the URL contains a backslash, white space or a control character",
        ),
        (
            "https://a.example/\x7f",
            "the URL contains a backslash, white space or a control character",
        ),
        ("https://a.example:99999/", "the URL is malformed (bad host or port)"),
        ("https://[::1/", "the URL is malformed (bad host or port)"),
        ("ftp://a.example/", "only https URLs are allowed (got scheme 'ftp')"),
        ("https://user@a.example/", "the URL must not carry user-info (user:password@)"),
        ("https:///path", "the URL has no host"),
        ("https://./", "the URL has no host"),
        ("https://a..example/", "the URL's host is not a valid host name"),
        ("https://-a.example/", "the URL's host is not a valid host name"),
        ("https://a$b.example/", "the URL's host is not a valid host name"),
        ("https://" + "a." * 126 + "com/", "the URL's host is not a valid host name"),
    ],
)
def test_check_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(UnsafeURL) as refused:
        check_url(url)
    assert str(refused.value) == f"url: {message}"


def test_check_url_keeps_what_is_right() -> None:
    assert check_url("HTTPS://a.example/") == ("https", "a.example", 443)
    assert check_url("http://a.example/") == ("http", "a.example", 80)
    assert check_url("https://a.example:80/") == ("https", "a.example", 80)
    assert check_url("https://[FE80::1]/") == ("https", "fe80::1", 443)
    assert check_url("https://a_b.example/")[1] == "a_b.example"
    assert check_url("https://" + "a" * 63 + ".example/")[1] == "a" * 63 + ".example"
    assert check_url("https://" + "a." * 125 + "com/")[1] == "a." * 125 + "com"


def test_private_names() -> None:
    for name in ("localhost", "ip6-localhost", "intranet", "a.localhost", "x.local",
                 "metadata.google.internal", "r.home.arpa", "a.localdomain", "a.lan"):  # fmt: skip
        assert is_private_name(name), name
    for name in ("example.com", "local.example.com", "lan.example", "internal.example.com"):
        assert not is_private_name(name), name


def test_an_allowed_network_with_host_bits_set_is_read_as_its_network() -> None:
    # an operator writing 10.1.2.3/8 means 10.0.0.0/8, not an error at start-up
    policy = NetworkPolicy.parse("10.1.2.3/8")
    assert str(policy) == "10.0.0.0/8"
    assert policy.in_allowed_network(ipaddress.ip_address("10.200.0.1"))


def test_a_host_name_longer_than_dns_allows_is_refused() -> None:
    longest = "a" * 61 + ".b" * 96  # 253 characters
    assert len(longest) == 253
    assert check_url(f"https://{longest}/")[1] == longest
    with pytest.raises(UnsafeURL, match="not a valid host name"):
        check_url(f"https://a{longest}/")
