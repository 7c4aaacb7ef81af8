"""The engine's pure parts: PKCE, discovery rules, callbacks, refresh timing, and the
promise that no secret ever shows up in a repr, an error message or a log line."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import outbound.oauth
from outbound.oauth import (
    OAuthClient,
    OAuthConfigError,
    OAuthError,
    PermanentOAuthError,
    ProviderConfig,
    SecretOriginError,
    TokenSet,
    TransientOAuthError,
    check_callback,
    check_callback_issuer,
    needs_refresh,
    refresh_allowed,
)
from outbound.oauth.discovery import expected_issuer
from outbound.oauth.pkce import new_verifier, s256_challenge
from outbound.secret import Secret


def test_public_surface_is_pinned() -> None:
    assert outbound.oauth.__all__ == [
        "OAuthClient",
        "OAuthConfigError",
        "OAuthError",
        "PermanentOAuthError",
        "ProviderConfig",
        "SecretOriginError",
        "TokenSet",
        "TransientOAuthError",
        "check_callback",
        "check_callback_issuer",
        "needs_refresh",
        "refresh_allowed",
    ]
    assert issubclass(PermanentOAuthError, OAuthError)
    assert issubclass(TransientOAuthError, OAuthError)
    assert issubclass(OAuthConfigError, OAuthError)


# -- PKCE (RFC 7636) ----------------------------------------------------------------------


def test_s256_matches_the_rfc_7636_appendix_b_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_new_verifiers_are_long_unreserved_and_unique() -> None:
    verifiers = {new_verifier() for _ in range(100)}
    assert len(verifiers) == 100
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    for verifier in verifiers:
        assert 43 <= len(verifier) <= 128 and set(verifier) <= allowed


def test_a_short_verifier_is_refused() -> None:
    with pytest.raises(ValueError):
        s256_challenge("too-short")


# -- discovery (RFC 8414, OIDC Discovery) ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "issuer"),
    [
        (
            "https://accounts.google.com/.well-known/openid-configuration",
            "https://accounts.google.com",
        ),
        (
            "https://login.example.com/tenant/v2.0/.well-known/openid-configuration",
            "https://login.example.com/tenant/v2.0",
        ),
        (
            "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
            "https://as.example.com/tenant1",
        ),
        ("https://as.example.com/.well-known/oauth-authorization-server", "https://as.example.com"),
        ("https://as.example.com/metadata.json", None),
    ],
)
def test_expected_issuer_of_a_discovery_url(url: str, issuer: str | None) -> None:
    assert expected_issuer(url) == issuer


def metadata_transport(documents: list[httpx.Response]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return documents.pop(0)

    return httpx.MockTransport(handler)


GOOD_METADATA = {
    "issuer": "https://as.example.com",
    "authorization_endpoint": "https://as.example.com/authorize",
    "token_endpoint": "https://as.example.com/token",
    "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_post"],
}
DISCOVERY = "https://as.example.com/.well-known/oauth-authorization-server"


async def test_auth_method_comes_from_the_metadata_unless_configured() -> None:
    transport = metadata_transport([httpx.Response(200, json=GOOD_METADATA)])
    async with OAuthClient(httpx.AsyncClient(transport=transport)) as client:
        base = ProviderConfig(client_id="c", client_secret=Secret("s"), discovery_url=DISCOVERY)
        assert (await client.resolve(base)).token_endpoint_auth_method == "client_secret_post"
        explicit = ProviderConfig(
            client_id="c",
            client_secret=Secret("s"),
            discovery_url=DISCOVERY,
            token_endpoint_auth_method="client_secret_basic",
        )
        assert (await client.resolve(explicit)).token_endpoint_auth_method == "client_secret_basic"
        # Explicit endpoints win over the document's.
        pinned = ProviderConfig(
            client_id="c", discovery_url=DISCOVERY, token_url="https://as.example.com/other-token"
        )
        resolved = await client.resolve(pinned)
        assert resolved.token_url == "https://as.example.com/other-token"
        assert resolved.token_endpoint_auth_method == "none"  # no secret: a public client


async def test_without_metadata_the_default_is_basic() -> None:
    async with OAuthClient() as client:
        config = ProviderConfig(
            client_id="c", client_secret=Secret("s"), token_url="https://as.example.com/token"
        )
        assert (await client.resolve(config)).token_endpoint_auth_method == "client_secret_basic"


@pytest.mark.parametrize(
    "document",
    [
        {**GOOD_METADATA, "issuer": "https://evil.example.com"},
        {**GOOD_METADATA, "issuer": "https://as.example.com/"},  # must be identical
        {k: v for k, v in GOOD_METADATA.items() if k != "issuer"},
        {**GOOD_METADATA, "token_endpoint": "http://as.example.com/token"},  # not TLS
    ],
)
async def test_bad_metadata_is_a_configuration_error(document: dict[str, Any]) -> None:
    transport = metadata_transport([httpx.Response(200, json=document)])
    async with OAuthClient(httpx.AsyncClient(transport=transport)) as client:
        with pytest.raises(OAuthConfigError):
            await client.resolve(ProviderConfig(client_id="c", discovery_url=DISCOVERY))


async def test_a_stale_document_is_used_when_refetching_fails() -> None:
    transport = metadata_transport([httpx.Response(200, json=GOOD_METADATA), httpx.Response(503)])
    async with OAuthClient(httpx.AsyncClient(transport=transport), discovery_ttl=0) as client:
        config = ProviderConfig(client_id="c", discovery_url=DISCOVERY)
        first = await client.resolve(config)
        second = await client.resolve(config)  # the refetch fails: the old document serves
    assert first == second and second.token_url == "https://as.example.com/token"


async def test_discovery_failures() -> None:
    transport = metadata_transport(
        [httpx.Response(503), httpx.Response(404), httpx.Response(200, text="<html>")]
    )
    async with OAuthClient(httpx.AsyncClient(transport=transport)) as client:
        config = ProviderConfig(client_id="c", discovery_url=DISCOVERY)
        with pytest.raises(TransientOAuthError):
            await client.resolve(config)
        with pytest.raises(OAuthConfigError):
            await client.resolve(config)
        with pytest.raises(TransientOAuthError):
            await client.resolve(config)
        insecure = ProviderConfig(
            client_id="c", discovery_url="http://as.example.com/.well-known/openid-configuration"
        )
        with pytest.raises(OAuthConfigError):
            await client.resolve(insecure)


def test_authorization_url_needs_a_resolved_config() -> None:
    with pytest.raises(OAuthConfigError):
        OAuthClient().authorization_url(
            ProviderConfig(client_id="c", discovery_url=DISCOVERY),
            redirect_uri="https://v/cb",
            state="s",
            scopes=(),
            code_challenge=None,
        )


def test_authorization_url_keeps_the_configured_query_and_joins_scopes() -> None:
    config = ProviderConfig(
        client_id="c",
        authorization_url="https://as.example.com/authorize?tenant=acme",
        default_scopes=("a", "b"),
        scope_separator="+",
        authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    )
    url = OAuthClient().authorization_url(
        config, redirect_uri="https://v/cb", state="st", scopes=(), code_challenge=None
    )
    query = parse_qs(urlsplit(url).query)
    assert query["tenant"] == ["acme"]
    assert query["scope"] == ["a+b"]
    assert query["response_type"] == ["code"]
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert "code_challenge" not in query


# -- callbacks (RFC 6749 §4.1.2, RFC 9207) ----------------------------------------------


ISSUER_CONFIG = ProviderConfig(client_id="c", issuer="https://as.example.com")


def test_callback_issuer_checks() -> None:
    check_callback_issuer(ISSUER_CONFIG, {"code": "x", "iss": "https://as.example.com"})
    check_callback_issuer(ISSUER_CONFIG, {"code": "x"})  # not promised: absent is fine
    with pytest.raises(PermanentOAuthError, match="issuer_mismatch"):
        check_callback_issuer(ISSUER_CONFIG, {"code": "x", "iss": "https://evil.example"})
    promised = ProviderConfig(
        client_id="c", issuer="https://as.example.com", require_callback_issuer=True
    )
    with pytest.raises(PermanentOAuthError, match="issuer_mismatch"):
        check_callback_issuer(promised, {"code": "x"})


def test_check_callback_returns_the_code_or_raises_the_providers_error() -> None:
    assert check_callback(ISSUER_CONFIG, {"code": "the-code", "state": "s"}) == "the-code"
    with pytest.raises(PermanentOAuthError) as denied:
        check_callback(ISSUER_CONFIG, {"error": "access_denied", "state": "s"})
    assert denied.value.error == "access_denied"
    with pytest.raises(PermanentOAuthError) as missing:
        check_callback(ISSUER_CONFIG, {"state": "s"})
    assert missing.value.error == "invalid_request"


# -- when to refresh --------------------------------------------------------------------


def test_needs_refresh_honours_the_margin() -> None:
    config = ProviderConfig(client_id="c")
    now = 1_000_000
    assert not needs_refresh(config, now + 301, now, default_margin=300)
    assert needs_refresh(config, now + 300, now, default_margin=300)
    assert needs_refresh(config, now - 1, now, default_margin=300)
    own_margin = ProviderConfig(client_id="c", refresh_margin=60)
    assert not needs_refresh(own_margin, now + 100, now, default_margin=300)
    assert needs_refresh(own_margin, now + 60, now, default_margin=300)


def test_refresh_window_narrows_the_margin() -> None:
    # Exact Online refuses refreshes earlier than 30 s before expiry.
    config = ProviderConfig(client_id="c", refresh_window=30)
    now = 1_000_000
    assert not needs_refresh(config, now + 100, now, default_margin=300)
    assert needs_refresh(config, now + 20, now, default_margin=300)
    assert not refresh_allowed(config, now + 100, now)
    assert refresh_allowed(config, now + 20, now)
    assert refresh_allowed(ProviderConfig(client_id="c"), now + 100, now)


def test_an_unknown_expiry_never_means_forever() -> None:
    config = ProviderConfig(client_id="c")
    now = 1_000_000
    assert needs_refresh(config, 0, now, default_margin=300)
    assert not needs_refresh(config, 0, now, default_margin=300, obtained_at=now - 60)
    assert needs_refresh(config, 0, now, default_margin=300, obtained_at=now - 3400)


# -- secrets stay secret ------------------------------------------------------------------

CLIENT_SECRET = "client-secret-" + "9f3b2c71d0"
REFRESH_TOKEN = "refresh-token-" + "a81c4e2277"
CODE = "authz-code-" + "5d0e7b3a19"
VERIFIER = "verifier-" + "x" * 40


def test_token_set_repr_masks_every_token() -> None:
    tokens = TokenSet(
        access_token=Secret("access-" + "q" * 20),
        refresh_token=Secret(REFRESH_TOKEN),
        id_token=Secret("id-" + "z" * 20),
        expires_at=int(time.time()) + 60,
        scopes=("read",),
        subject="alice",
        extra={"team.id": "T1"},
    )
    text = f"{tokens!r} {tokens}"
    assert "q" * 20 not in text and REFRESH_TOKEN not in text and "z" * 20 not in text
    assert "alice" in text and "read" in text


def echoing_provider(status: int) -> httpx.MockTransport:
    """A careless provider that repeats the request back in its error description."""

    def handler(request: httpx.Request) -> httpx.Response:
        echoed = f"{request.content.decode()} {request.headers.get('authorization', '')}"
        return httpx.Response(status, json={"error": "invalid_grant", "error_description": echoed})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
@pytest.mark.parametrize("status", [400, 200])
async def test_errors_never_carry_secrets_even_when_the_provider_echoes_them(
    method: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = ProviderConfig(
        client_id="c",
        client_secret=Secret(CLIENT_SECRET),
        token_url="https://as.example.com/token",
        revocation_url="https://as.example.com/revoke",
        token_endpoint_auth_method=method,  # type: ignore[arg-type]
    )
    errors: list[OAuthError] = []
    async with OAuthClient(httpx.AsyncClient(transport=echoing_provider(status))) as client:
        for call in (
            client.refresh(config, Secret(REFRESH_TOKEN)),
            client.exchange_code(
                config, code=CODE, redirect_uri="https://v/cb", code_verifier=VERIFIER
            ),
        ):
            with pytest.raises(PermanentOAuthError) as caught:
                await call
            errors.append(caught.value)
        if status != 200:
            with pytest.raises(PermanentOAuthError) as revoke:
                await client.revoke(config, Secret(REFRESH_TOKEN), hint="refresh_token")
            errors.append(revoke.value)

    assert errors
    logged = " ".join(record.getMessage() for record in caplog.records)
    for error in errors:
        text = f"{error} {error!r} {error.description} {error.args}"
        assert "**********" in text  # the echo was there, and was scrubbed
        for secret in (CLIENT_SECRET, REFRESH_TOKEN, CODE, VERIFIER):
            assert secret not in text
            assert secret not in logged


def test_callback_errors_do_not_echo_the_code() -> None:
    with pytest.raises(PermanentOAuthError) as caught:
        check_callback(
            ISSUER_CONFIG,
            {"error": "server_error", "code": CODE, "error_description": f"could not use {CODE}"},
        )
    assert CODE not in str(caught.value)


async def test_credentials_are_never_sent_without_tls() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)
    config = ProviderConfig(
        client_id="c",
        client_secret=Secret(CLIENT_SECRET),
        token_url="http://as.example.com/token",
        revocation_url="http://as.example.com/revoke",
    )
    async with OAuthClient(httpx.AsyncClient(transport=transport)) as client:
        with pytest.raises(OAuthConfigError):
            await client.refresh(config, Secret(REFRESH_TOKEN))
        with pytest.raises(OAuthConfigError):
            await client.revoke(config, Secret(REFRESH_TOKEN), hint="refresh_token")
    assert sent == []


async def test_a_redirect_from_the_token_endpoint_is_not_followed() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(307, headers={"location": "https://elsewhere.example/steal"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True)
    config = ProviderConfig(
        client_id="c", client_secret=Secret(CLIENT_SECRET), token_url="https://as.example.com/token"
    )
    async with OAuthClient(http) as client:
        with pytest.raises(TransientOAuthError):
            await client.refresh(config, Secret(REFRESH_TOKEN))
    await http.aclose()
    assert [r.url.host for r in sent] == ["as.example.com"]


def _failing_then(failures: list[Exception | httpx.Response]) -> tuple[list[str], Any]:
    """A transport that fails (or answers) as listed, then answers a token; the refresh
    tokens it received."""
    received: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(parse_qs(request.content.decode())["refresh_token"][0])
        if failures:
            outcome = failures.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        return httpx.Response(200, json={"access_token": "new", "token_type": "Bearer"})

    return received, httpx.MockTransport(handler)


@pytest.mark.parametrize(
    "lost",
    [
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("server disconnected without sending a response"),
    ],
    ids=["reset", "eof"],
)
async def test_a_lost_answer_is_retried_once_with_the_same_refresh_token(lost: Exception) -> None:
    config = ProviderConfig(
        client_id="c", client_secret=Secret(CLIENT_SECRET), token_url="https://as.example.com/t"
    )
    received, transport = _failing_then([lost])
    async with OAuthClient(httpx.AsyncClient(transport=transport)) as client:
        tokens = await client.refresh(config, Secret(REFRESH_TOKEN))
    assert tokens.access_token is not None and tokens.access_token.reveal() == "new"
    assert received == [REFRESH_TOKEN, REFRESH_TOKEN]

    # Lost twice: reported as a lost answer, sent twice in all.
    received, transport = _failing_then([lost, lost])
    async with OAuthClient(httpx.AsyncClient(transport=transport)) as client:
        with pytest.raises(TransientOAuthError) as caught:
            await client.refresh(config, Secret(REFRESH_TOKEN))
    assert caught.value.error == "answer_lost" and caught.value.answer_may_be_lost
    assert len(received) == 2

    # Refused on the retry: the provider saw the refresh token reused.
    refusal = httpx.Response(400, json={"error": "invalid_grant"})
    received, transport = _failing_then([lost, refusal])
    async with OAuthClient(httpx.AsyncClient(transport=transport)) as client:
        with pytest.raises(PermanentOAuthError) as refused:
            await client.refresh(config, Secret(REFRESH_TOKEN))
    assert refused.value.after_lost_answer


@pytest.mark.parametrize(
    "outcome",
    [
        httpx.Response(503, text="<html>down</html>"),
        httpx.Response(400, json={"error": "invalid_grant"}),
        httpx.ConnectError("connection refused"),
    ],
    ids=["5xx-answer", "refusal", "never-sent"],
)
async def test_a_definite_answer_or_an_unsent_request_is_not_retried(
    outcome: Exception | httpx.Response,
) -> None:
    config = ProviderConfig(
        client_id="c", client_secret=Secret(CLIENT_SECRET), token_url="https://as.example.com/t"
    )
    received, transport = _failing_then([outcome])
    async with OAuthClient(httpx.AsyncClient(transport=transport)) as client:
        with pytest.raises(OAuthError) as caught:
            await client.refresh(config, Secret(REFRESH_TOKEN))
    assert len(received) == 1
    assert not getattr(caught.value, "after_lost_answer", False)
    assert not getattr(caught.value, "answer_may_be_lost", False)


# -- where the client secret may go (origins.py) --------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_the_client_secret_goes_only_to_the_origins_it_was_entered_for(method: str) -> None:
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"})

    bound = ProviderConfig(
        client_id="c",
        client_secret=Secret("the-client-secret"),
        token_url="https://elsewhere.example/token",
        revocation_url="https://elsewhere.example/revoke",
        token_endpoint_auth_method=method,  # type: ignore[arg-type]
        secret_origins=("https://as.example.com:443",),
    )
    async with OAuthClient(httpx.AsyncClient(transport=httpx.MockTransport(provider))) as client:
        with pytest.raises(SecretOriginError) as refused:
            await client.refresh(bound, Secret("rt"))
        assert "https://elsewhere.example:443" in str(refused.value)
        with pytest.raises(SecretOriginError):
            await client.exchange_code(
                bound, code="x", redirect_uri="https://cb", code_verifier=None
            )
        with pytest.raises(SecretOriginError):
            await client.revoke(bound, Secret("rt"), hint="refresh_token")
        assert seen == []
        # at its own origin (the default port spelled out or not) it goes
        home = dataclasses.replace(bound, token_url="https://AS.example.com:443/token")
        await client.refresh(home, Secret("rt"))
        # a public client sends no secret: nothing to hold back; unrecorded origins: unchecked
        await client.refresh(
            dataclasses.replace(bound, token_endpoint_auth_method="none"), Secret("rt")
        )
        await client.refresh(dataclasses.replace(bound, secret_origins=None), Secret("rt"))
        assert len(seen) == 3
