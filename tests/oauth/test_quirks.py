"""Provider quirks, against responses shaped like the providers' published documentation.

These providers cannot run here, so their token endpoints are httpx.MockTransport handlers
answering what each provider's docs show; what is asserted is what the vault would store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from outbound.oauth import (
    OAuthClient,
    OAuthConfigError,
    PermanentOAuthError,
    ProviderConfig,
    TransientOAuthError,
)
from outbound.oauth import hooks as oauth_hooks
from outbound.secret import Secret
from tests.support.mock_provider import MockProvider as Recorder

Handler = Callable[[httpx.Request], httpx.Response]


def engine(recorder: Recorder) -> OAuthClient:
    return recorder.client()


def config(**fields: Any) -> ProviderConfig:
    defaults: dict[str, Any] = {
        "client_id": "client-id",
        "client_secret": Secret("the-client-secret"),
        "authorization_url": "https://provider.example/oauth/authorize",
        "token_url": "https://provider.example/oauth/token",
    }
    return ProviderConfig(**{**defaults, **fields})


async def exchange(recorder: Recorder, cfg: ProviderConfig, **kwargs: Any) -> Any:
    async with engine(recorder) as client:
        return await client.exchange_code(
            cfg,
            code="the-code",
            redirect_uri="https://vault.example/cb",
            code_verifier=kwargs.pop("code_verifier", None),
            **kwargs,
        )


# -- Slack: oauth.v2.access --------------------------------------------------------------

SLACK_V2_ACCESS = {
    "ok": True,
    "access_token": "xoxb-17653672481-19874698323-madeup",
    "token_type": "bot",
    "scope": "commands,incoming-webhook",
    "bot_user_id": "U0KRQLJ9H",
    "app_id": "A0KRD7HC3",
    "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
    "enterprise": {"name": "slack-sports", "id": "E12345678"},
    "authed_user": {
        "id": "U1234",
        "scope": "chat:write,channels:history",
        "access_token": "xoxp-1234",
        "token_type": "user",
    },
}


def slack(**fields: Any) -> ProviderConfig:
    return config(
        authorization_url="https://slack.com/oauth/v2/authorize",
        token_url="https://slack.com/api/oauth.v2.access",
        token_endpoint_auth_method="client_secret_post",
        token_response_path="authed_user",
        success_field="ok",
        scope_separator=",",
        subject_field="authed_user.id",
        extra_token_fields=("team.id", "enterprise.id", "authed_user.access_token"),
        hooks=("user_scope",),
        **fields,
    )


async def test_slack_user_token_is_read_from_authed_user() -> None:
    recorder = Recorder(httpx.Response(200, json=SLACK_V2_ACCESS))

    tokens = await exchange(recorder, slack())

    assert tokens.access_token.reveal() == "xoxp-1234"
    assert tokens.token_type == "user"
    assert tokens.scopes == ("chat:write", "channels:history")
    assert tokens.subject == "U1234"
    assert tokens.expires_at == 0  # Slack says nothing: unknown, not "never"
    # Plain-text extras never include a token, even when a template asks for one.
    assert tokens.extra == {"team.id": "T9TK3CUKW", "enterprise.id": "E12345678"}
    # client_secret_post: credentials in the form, no Authorization header.
    form = recorder.form()
    assert form["client_id"] == "client-id" and form["client_secret"] == "the-client-secret"
    assert "authorization" not in recorder.last.headers


def test_slack_user_scopes_go_in_user_scope() -> None:
    url = OAuthClient().authorization_url(
        slack(),
        redirect_uri="https://vault.example/cb",
        state="s",
        scopes=("chat:write", "channels:history"),
        code_challenge=None,
    )
    query = parse_qs(urlsplit(url).query)
    assert query["user_scope"] == ["chat:write,channels:history"]
    assert "scope" not in query


@pytest.mark.parametrize("error", ["invalid_code", "invalid_refresh_token", "bad_client_secret"])
async def test_slack_ok_false_at_http_200_is_permanent(error: str) -> None:
    recorder = Recorder(httpx.Response(200, json={"ok": False, "error": error}))

    with pytest.raises(PermanentOAuthError) as caught:
        await exchange(recorder, slack())

    assert caught.value.error == error
    assert caught.value.status_code == 200


async def test_slack_ok_false_with_a_transient_error_is_transient() -> None:
    recorder = Recorder(httpx.Response(200, json={"ok": False, "error": "ratelimited"}))

    with pytest.raises(TransientOAuthError) as caught:
        await exchange(recorder, slack())
    assert caught.value.error == "ratelimited"


async def test_slack_token_rotation_refresh_answers_at_the_top_level() -> None:
    # Slack apps with token rotation: oauth.v2.access with grant_type=refresh_token answers
    # the refreshed user token at the top level, not under authed_user.
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "ok": True,
                "access_token": "xoxe.xoxp-1-new",
                "expires_in": 43200,
                "refresh_token": "xoxe-1-new-refresh",
                "token_type": "user",
                "scope": "chat:write",
                "team": {"id": "T9TK3CUKW"},
            },
        )
    )
    before = int(time.time())
    async with engine(recorder) as client:
        tokens = await client.refresh(slack(), Secret("xoxe-1-old-refresh"))

    assert recorder.form()["grant_type"] == "refresh_token"
    assert recorder.form()["refresh_token"] == "xoxe-1-old-refresh"
    assert tokens.refresh_token == Secret("xoxe-1-new-refresh")
    assert before + 43200 <= tokens.expires_at <= int(time.time()) + 43200


# -- GitHub ---------------------------------------------------------------------------


def github(**fields: Any) -> ProviderConfig:
    template: dict[str, Any] = {
        "authorization_url": "https://github.com/login/oauth/authorize",
        "token_url": "https://github.com/login/oauth/access_token",
        "token_endpoint_auth_method": "client_secret_post",
        "hooks": ("accept_json", "comma_separated_scopes"),
    }
    return config(**{**template, **fields})


async def test_github_asks_for_json_and_reads_comma_separated_scopes() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
                "scope": "repo,gist",
                "token_type": "bearer",
            },
        )
    )

    tokens = await exchange(recorder, github())

    assert recorder.last.headers["accept"] == "application/json"
    assert tokens.access_token.reveal() == "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    assert tokens.scopes == ("repo", "gist")
    assert tokens.token_type == "Bearer"
    assert tokens.refresh_token is None and tokens.expires_at == 0


async def test_github_form_encoded_answer_is_understood() -> None:
    # GitHub's default answer without Accept: application/json.
    body = (
        b"access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer"
    )
    recorder = Recorder(
        httpx.Response(
            200, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
    )

    tokens = await exchange(recorder, github(hooks=("comma_separated_scopes",)))

    assert tokens.access_token.reveal() == "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    assert tokens.scopes == ("repo", "gist")


async def test_github_error_at_http_200_is_permanent() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
            },
        )
    )

    with pytest.raises(PermanentOAuthError) as caught:
        await exchange(recorder, github())

    assert caught.value.error == "bad_verification_code"
    assert caught.value.description == "The code passed is incorrect or expired."


async def test_github_app_expiring_user_token() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "access_token": "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
                "expires_in": 28800,
                "refresh_token": "ghr_1B4a2e77838347a7E420ce178F2E7c6912E1",
                "refresh_token_expires_in": 15811200,
                "scope": "",
                "token_type": "bearer",
            },
        )
    )

    tokens = await exchange(recorder, github())

    assert tokens.refresh_token is not None
    assert tokens.expires_at >= int(time.time()) + 28800 - 5
    assert tokens.scopes == ()  # GitHub said: no scopes (GitHub Apps use permissions)


# -- Notion: JSON request body, Basic auth ---------------------------------------------


async def test_notion_json_request_and_workspace_extras() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "access_token": "e202e8c9-0990-40af-855f-ff8f872b1ec6c",
                "token_type": "bearer",
                "refresh_token": "nrt-refresh",
                "bot_id": "b3414d659-1224-5ty7-6ffr-cc9d8773drt601288f",
                "duplicated_template_id": None,
                "owner": {"type": "user", "user": {"object": "user", "id": "ee5f0f84-409a-440f"}},
                "workspace_icon": "https://website.domain/images/image.png",
                "workspace_id": "j565j4d7x3-2882-61bs-564a-jj9d9ui-c36hxfr7x",
                "workspace_name": "Ada's Notion Workspace",
                "request_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
            },
        )
    )
    cfg = config(
        token_url="https://api.notion.com/v1/oauth/token",
        token_request_format="json",
        extra_token_fields=("workspace_id", "workspace_name", "bot_id"),
        subject_field="owner.user.id",
    )

    tokens = await exchange(recorder, cfg)

    assert recorder.last.headers["content-type"] == "application/json"
    assert json.loads(recorder.last.content) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://vault.example/cb",
    }
    assert recorder.basic_auth() == ("client-id", "the-client-secret")
    assert tokens.extra["workspace_id"] == "j565j4d7x3-2882-61bs-564a-jj9d9ui-c36hxfr7x"
    assert tokens.extra["bot_id"] == "b3414d659-1224-5ty7-6ffr-cc9d8773drt601288f"
    assert tokens.subject == "ee5f0f84-409a-440f"
    assert tokens.expires_at == 0 and tokens.scopes is None


# -- Salesforce: no expires_in, instance_url ---------------------------------------------


async def test_salesforce_instance_url_and_unknown_expiry() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "access_token": "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog",
                "signature": "d/SxeYBxH0GSVko0HMgcUxuZy0PA2cDDz1u7g7JtDHw=",
                "scope": "refresh_token full",
                "instance_url": "https://mycompany.my.salesforce.com",
                "id": "https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
                "token_type": "Bearer",
                "issued_at": "1278448101416",
                "refresh_token": "5Aep8614iLM.Dq661ePDmPEgaAW9Oh_L3JKkDpB4xReb54==",
            },
        )
    )
    cfg = config(
        token_url="https://login.salesforce.com/services/oauth2/token",
        extra_token_fields=("instance_url",),
        subject_field="id",
    )

    tokens = await exchange(recorder, cfg)

    assert tokens.extra == {"instance_url": "https://mycompany.my.salesforce.com"}
    assert tokens.expires_at == 0
    assert tokens.scopes == ("refresh_token", "full")
    assert tokens.subject.endswith("/005xx000001SwiUAAS")


# -- Microsoft identity platform: scope again on refresh; expires_in as a string ----------


async def test_microsoft_sends_scope_on_refresh_and_reads_string_expiry() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "scope": "https://graph.microsoft.com/User.Read offline_access",
                "expires_in": "3599",
                "ext_expires_in": "3599",
                "access_token": "EwBwA8l6BAAU",
                "refresh_token": "AwABAAAAvPM1KaPl",
            },
        )
    )
    cfg = config(
        token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
        token_endpoint_auth_method="client_secret_post",
        scope_on_refresh=True,
        default_scopes=("https://graph.microsoft.com/User.Read", "offline_access"),
    )
    async with engine(recorder) as client:
        tokens = await client.refresh(cfg, Secret("AwABAAAAold"))

    assert recorder.form()["scope"] == "https://graph.microsoft.com/User.Read offline_access"
    assert tokens.expires_at >= int(time.time()) + 3599 - 5
    assert tokens.refresh_token == Secret("AwABAAAAvPM1KaPl")


async def test_scope_is_not_sent_on_refresh_unless_the_provider_wants_it() -> None:
    recorder = Recorder(httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"}))
    async with engine(recorder) as client:
        await client.refresh(config(default_scopes=("read",)), Secret("old-refresh"))
    assert "scope" not in recorder.form()


# -- Figma: a separate refresh URL ----------------------------------------------------


async def test_figma_refreshes_at_its_refresh_url() -> None:
    recorder = Recorder(
        httpx.Response(200, json={"access_token": "figd_new", "expires_in": 7776000})
    )
    cfg = config(
        token_url="https://api.figma.com/v1/oauth/token",
        refresh_url="https://api.figma.com/v1/oauth/refresh",
    )
    async with engine(recorder) as client:
        tokens = await client.refresh(cfg, Secret("figr_refresh"))

    assert str(recorder.last.url) == "https://api.figma.com/v1/oauth/refresh"
    # No refresh_token in the answer: the caller keeps the old one.
    assert tokens.refresh_token is None


# -- Intuit QuickBooks: realmId arrives on the callback ---------------------------------


async def test_quickbooks_realm_id_from_the_callback_is_kept() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "token_type": "bearer",
                "expires_in": 3600,
                "refresh_token": "AB11570127472",
                "x_refresh_token_expires_in": 8726400,
                "access_token": "eyJlbmMiOiJBMTI4Q0JDLUhT",
            },
        )
    )
    cfg = config(
        token_url="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        extra_callback_params=("realmId", "code", "state"),
        extra_token_fields=("x_refresh_token_expires_in",),
    )

    tokens = await exchange(
        recorder,
        cfg,
        callback_params={
            "code": "the-code",
            "state": "s",
            "realmId": "4620816365178297130",
        },
    )

    # The code and state are never kept, even when a template lists them.
    assert tokens.extra == {
        "realmId": "4620816365178297130",
        "x_refresh_token_expires_in": 8726400,
    }


# -- Dropbox: offline access asked for in the authorize URL ------------------------------


async def test_dropbox_authorize_params_and_account_subject() -> None:
    cfg = config(
        authorization_url="https://www.dropbox.com/oauth2/authorize",
        token_url="https://api.dropboxapi.com/oauth2/token",
        authorize_params=(("token_access_type", "offline"), ("state", "attacker-state")),
        token_params=(("grant_type", "password"), ("audience", "files")),
        subject_field="account_id",
    )
    url = OAuthClient().authorization_url(
        cfg,
        redirect_uri="https://vault.example/cb",
        state="real-state",
        scopes=("files.content.read",),
        code_challenge="abc",
    )
    query = parse_qs(urlsplit(url).query)
    assert query["token_access_type"] == ["offline"]
    assert query["state"] == ["real-state"]  # templates never override the engine's own
    assert query["code_challenge_method"] == ["S256"]

    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "access_token": "sl.u.AbX9y6Fe3AuH5o66",
                "expires_in": 14400,
                "token_type": "bearer",
                "scope": "account_info.read files.content.read",
                "refresh_token": "nBiM85CZALsAAAAAAAAAAQXH",
                "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                "uid": "12345",
            },
        )
    )
    tokens = await exchange(recorder, cfg)
    form = recorder.form()
    assert form["grant_type"] == "authorization_code" and form["audience"] == "files"
    assert tokens.subject == "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"


# -- errors as RFC 6749 §5.2 and HTTP say -------------------------------------------------


@pytest.mark.parametrize(
    ("response", "kind", "error"),
    [
        (
            httpx.Response(400, json={"error": "invalid_grant"}),
            PermanentOAuthError,
            "invalid_grant",
        ),
        (httpx.Response(401), PermanentOAuthError, "invalid_client"),
        (
            httpx.Response(400, json={"error": "invalid_scope"}),
            PermanentOAuthError,
            "invalid_scope",
        ),
        (
            httpx.Response(400, json={"error": "unsupported_grant_type"}),
            PermanentOAuthError,
            "unsupported_grant_type",
        ),
        (
            httpx.Response(400, json={"error": "temporarily_unavailable"}),
            TransientOAuthError,
            "temporarily_unavailable",
        ),
        (httpx.Response(502, text="<html>Bad gateway</html>"), TransientOAuthError, "server_error"),
        (httpx.Response(429, headers={"retry-after": "30"}), TransientOAuthError, "rate_limited"),
        (
            httpx.Response(200, text="<html>maintenance</html>"),
            TransientOAuthError,
            "malformed_response",
        ),
        (
            httpx.Response(200, json={"token_type": "Bearer"}),
            TransientOAuthError,
            "malformed_response",
        ),
        (
            httpx.Response(200, json=["not", "an", "object"]),
            TransientOAuthError,
            "malformed_response",
        ),
    ],
)
async def test_token_endpoint_answers_are_classified(
    response: httpx.Response, kind: type[Exception], error: str
) -> None:
    with pytest.raises(kind) as caught:
        await exchange(Recorder(response), config())
    assert caught.value.error == error  # type: ignore[attr-defined]


async def test_retry_after_is_kept() -> None:
    with pytest.raises(TransientOAuthError) as caught:
        await exchange(Recorder(httpx.Response(429, headers={"retry-after": "30"})), config())
    assert caught.value.retry_after == 30


async def test_a_streamed_body_is_cut_off_at_the_cap() -> None:
    produced = 0

    async def endless() -> Any:
        nonlocal produced
        while True:
            produced += 1
            yield b"x" * 65536

    class Endless(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, stream=httpx.AsyncByteStream.__new__(Stream))

    class Stream(httpx.AsyncByteStream):
        def __aiter__(self) -> Any:
            return endless()

    async with OAuthClient(
        httpx.AsyncClient(transport=Endless()), max_response_bytes=256 * 1024
    ) as client:
        with pytest.raises(TransientOAuthError) as caught:
            await client.refresh(config(), Secret("some-refresh-token"))

    assert caught.value.error == "response_too_large"
    assert produced <= 6  # stopped reading just past 256 KiB


async def test_revocation() -> None:
    recorder = Recorder(httpx.Response(200))
    cfg = config(revocation_url="https://provider.example/oauth/revoke")
    async with engine(recorder) as client:
        assert await client.revoke(cfg, Secret("the-refresh-token"), hint="refresh_token")
        assert recorder.form() == {"token": "the-refresh-token", "token_type_hint": "refresh_token"}
        assert recorder.basic_auth() == ("client-id", "the-client-secret")
        # No revocation endpoint: nothing to do, nothing sent.
        assert await client.revoke(config(), Secret("t"), hint="access_token") is False
        assert len(recorder.requests) == 1

    recorder = Recorder(httpx.Response(503, headers={"retry-after": "5"}))
    async with engine(recorder) as client:
        with pytest.raises(TransientOAuthError):
            await client.revoke(cfg, Secret("the-refresh-token"), hint="refresh_token")


async def test_revocation_in_a_json_body_without_the_hint() -> None:
    recorder = Recorder(httpx.Response(200))
    cfg = config(
        revocation_url="https://provider.example/oauth/revoke",
        revocation_request_format="json",
        revocation_token_type_hint=False,
    )
    async with engine(recorder) as client:
        assert await client.revoke(cfg, Secret("the-refresh-token"), hint="refresh_token")
    assert recorder.last.headers["content-type"] == "application/json"
    assert json.loads(recorder.last.content) == {"token": "the-refresh-token"}
    assert recorder.basic_auth() == ("client-id", "the-client-secret")


async def test_revocation_posts_client_credentials_in_a_json_body_when_configured() -> None:
    recorder = Recorder(httpx.Response(200))
    cfg = config(
        revocation_url="https://provider.example/oauth/revoke",
        revocation_request_format="json",
        token_endpoint_auth_method="client_secret_post",
    )
    async with engine(recorder) as client:
        assert await client.revoke(cfg, Secret("the-access-token"), hint="access_token")
    assert "authorization" not in recorder.last.headers
    assert json.loads(recorder.last.content) == {
        "token": "the-access-token",
        "token_type_hint": "access_token",
        "client_id": "client-id",
        "client_secret": "the-client-secret",
    }


async def test_a_token_the_revocation_endpoint_does_not_take_is_not_sent() -> None:
    recorder = Recorder(httpx.Response(200))
    cfg = config(
        revocation_url="https://provider.example/oauth/revoke",
        revocation_token_types=("access_token",),
    )
    async with engine(recorder) as client:
        assert await client.revoke(cfg, Secret("rt"), hint="refresh_token") is False
        assert recorder.requests == []
        assert await client.revoke(cfg, Secret("at"), hint="access_token") is True
    assert recorder.form()["token"] == "at"


@pytest.mark.parametrize("status", [200, 400])
async def test_a_revocation_error_body_is_an_error_whatever_the_status(status: int) -> None:
    recorder = Recorder(
        httpx.Response(
            status,
            json={
                "error": "invalid_client",
                "error_description": "bad the-client-secret",
            },
        )
    )
    cfg = config(revocation_url="https://provider.example/oauth/revoke")
    async with engine(recorder) as client:
        with pytest.raises(PermanentOAuthError) as caught:
            await client.revoke(cfg, Secret("rt"), hint="refresh_token")
    assert caught.value.error == "invalid_client"
    assert "the-client-secret" not in str(caught.value)


@pytest.mark.parametrize("body", [b"", b"{}", b"OK", b'{"revoked": true}'])
async def test_a_revocation_success_is_any_2xx_without_an_error(body: bytes) -> None:
    recorder = Recorder(httpx.Response(200, content=body))
    cfg = config(revocation_url="https://provider.example/oauth/revoke")
    async with engine(recorder) as client:
        assert await client.revoke(cfg, Secret("rt"), hint="refresh_token") is True


async def test_request_headers_go_on_every_provider_request_but_never_replace_the_engines() -> None:
    recorder = Recorder(httpx.Response(200, json={"access_token": "a"}))
    cfg = config(
        revocation_url="https://provider.example/oauth/revoke",
        request_headers=(
            ("Provider-Version", "2025-09-03"),
            ("Authorization", "Bearer nope"),
            ("Content-Type", "text/plain"),
        ),
    )
    async with engine(recorder) as client:
        await exchange(recorder, cfg)
        await client.refresh(cfg, Secret("rt"))
        await client.revoke(cfg, Secret("rt"), hint="refresh_token")
    assert len(recorder.requests) == 3
    for request in recorder.requests:
        assert request.headers["provider-version"] == "2025-09-03"
        assert request.headers["authorization"].startswith("Basic ")
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    # Not in the authorize URL: headers are for the back channel only.
    url = OAuthClient().authorization_url(
        cfg, redirect_uri="https://vault.example/cb", state="s", scopes=(), code_challenge=None
    )
    assert "2025-09-03" not in url


async def test_the_client_key_hook_renames_the_client_id_in_revocation_too() -> None:
    recorder = Recorder(httpx.Response(200, json={}))
    cfg = config(
        revocation_url="https://provider.example/oauth/revoke",
        token_endpoint_auth_method="client_secret_post",
        hooks=("client_key",),
    )
    async with engine(recorder) as client:
        assert await client.revoke(cfg, Secret("at"), hint="access_token")
    sent = recorder.form()
    assert sent["client_key"] == "client-id" and "client_id" not in sent
    assert "client_key" in oauth_hooks.names()


async def test_an_unknown_hook_is_a_configuration_error() -> None:
    with pytest.raises(OAuthConfigError) as caught:
        await exchange(Recorder(httpx.Response(200, json={})), config(hooks=("no_such_hook",)))
    assert "no_such_hook" in str(caught.value)
    assert "accept_json" in oauth_hooks.names()


async def test_a_public_client_sends_only_its_id() -> None:
    recorder = Recorder(httpx.Response(200, json={"access_token": "a"}))

    await exchange(recorder, config(client_secret=None), code_verifier="v" * 43)

    assert "authorization" not in recorder.last.headers
    assert recorder.form()["client_id"] == "client-id"
    assert recorder.form()["code_verifier"] == "v" * 43
    assert "client_secret" not in recorder.form()


async def test_basic_auth_form_encodes_id_and_secret() -> None:
    # RFC 6749 §2.3.1: client id and secret are form-urlencoded before base64.
    recorder = Recorder(httpx.Response(200, json={"access_token": "a"}))

    await exchange(recorder, config(client_id="id:with/odd", client_secret=Secret("s3cr%t:x")))

    assert recorder.basic_auth() == ("id%3Awith%2Fodd", "s3cr%25t%3Ax")
