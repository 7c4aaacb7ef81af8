"""Every quirk the catalog declares, through the engine, as the server configures it.

Each test builds the provider configuration the way the server does for an app created from
the template (``create/bytemplate`` → stored App fields → ``provider_config``), then checks
the authorize URL and the token / refresh requests the engine sends, and what it reads from a
response shaped like the provider's published documentation (httpx.MockTransport: these
providers cannot run here). Response bodies are written from the docs, never recorded from
real accounts; every token in them is made up.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from outbound.oauth import (
    PermanentOAuthError,
    ProviderConfig,
    TransientOAuthError,
    needs_refresh,
    refresh_allowed,
)
from outbound.secret import Secret
from outbound.server.tokens.providers import Providers
from outbound.server.tokens.revoke import revoke_tokens
from outbound.storage import TokenRecord

from .support import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    authorize_url,
    basic_auth,
    body_of,
    configured,
    exchange,
    json_response,
    query,
    refresh,
)

# -- Google: access_type=offline + prompt=consent --------------------------------------------


async def test_google_asks_for_offline_access_and_consent_and_refreshes_without_scope() -> None:
    config = configured("google")
    params = query(authorize_url(config, code_challenge="challenge"))
    assert params["access_type"] == "offline"  # or no refresh token at all
    assert params["prompt"] == "consent"  # or none for a user who consented before
    assert params["include_granted_scopes"] == "true"
    assert params["scope"] == "openid email profile"
    assert params["code_challenge"] == "challenge"

    provider = Provider(
        json_response(
            {
                "access_token": "ya29.a0-made-up",
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "openid https://www.googleapis.com/auth/userinfo.email",
                "refresh_token": "1//0g-made-up",
            }
        )
    )
    tokens = await refresh(provider, config)
    sent = body_of(provider.last)
    assert str(provider.last.url) == "https://oauth2.googleapis.com/token"
    assert "scope" not in sent  # Google keeps the granted scopes; it needs none on refresh
    assert sent["client_secret"] == CLIENT_SECRET  # client_secret_post
    assert tokens.scopes == ("openid", "https://www.googleapis.com/auth/userinfo.email")


async def test_google_workspace_variant_asks_for_its_api_scope() -> None:
    params = query(authorize_url(configured("google-calendar")))
    assert "https://www.googleapis.com/auth/calendar" in params["scope"].split(" ")
    assert params["access_type"] == "offline"


async def test_google_revocation_posts_the_token_to_the_revoke_endpoint() -> None:
    provider = Provider(httpx.Response(200))
    async with provider.client() as client:
        assert await client.revoke(configured("google"), Secret("rt-123"), hint="refresh_token")
    assert str(provider.last.url) == "https://oauth2.googleapis.com/revoke"
    assert body_of(provider.last)["token"] == "rt-123"


# -- GitHub: form-encoded unless asked, comma-separated scopes, errors with HTTP 200 -------------


async def test_github_asks_for_json_and_reads_comma_separated_scopes() -> None:
    provider = Provider(
        json_response(
            {
                "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
                "scope": "repo,gist",
                "token_type": "bearer",
            }
        )
    )
    tokens = await exchange(provider, configured("github"))
    assert provider.last.headers["accept"] == "application/json"
    assert tokens.scopes == ("repo", "gist")
    assert tokens.token_type == "Bearer"
    assert tokens.expires_at == 0  # OAuth App tokens carry no expiry


async def test_github_answers_form_encoded_when_it_ignores_accept() -> None:
    provider = Provider(
        httpx.Response(
            200,
            content=b"access_token=gho_made_up&scope=repo%2Cgist&token_type=bearer",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )
    tokens = await exchange(provider, configured("github"))
    assert tokens.access_token.reveal() == "gho_made_up"
    assert tokens.scopes == ("repo", "gist")


async def test_github_error_with_http_200_is_a_permanent_error() -> None:
    provider = Provider(
        json_response(
            {
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
                "error_uri": "https://docs.github.com/apps/troubleshooting",
            }
        )
    )
    with pytest.raises(PermanentOAuthError) as caught:
        await exchange(provider, configured("github"))
    assert caught.value.error == "bad_verification_code"


async def test_github_app_expiring_token_rotates_its_refresh_token() -> None:
    config = configured("github")
    assert config.rotates_refresh_token
    provider = Provider(
        json_response(
            {
                "access_token": "ghu_new",
                "expires_in": 28800,
                "refresh_token": "ghr_new",
                "refresh_token_expires_in": 15897600,
                "scope": "",
                "token_type": "bearer",
            }
        )
    )
    before = int(time.time())
    tokens = await refresh(provider, config, "ghr_old")
    assert tokens.refresh_token.reveal() == "ghr_new"
    assert before + 28800 <= tokens.expires_at <= int(time.time()) + 28800


# -- Slack: ok:false with HTTP 200, nested authed_user, comma scopes ----------------------------

SLACK_ACCESS = {
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
        "scope": "chat:write",
        "access_token": "xoxp-1234-madeup",
        "token_type": "user",
    },
}


async def test_slack_bot_token_keeps_the_team_and_reads_comma_scopes() -> None:
    config = configured("slack")
    params = query(authorize_url(config))
    assert params["scope"] == "channels:read,chat:write,users:read"
    assert not config.pkce  # Slack does not document PKCE for web apps

    provider = Provider(json_response(SLACK_ACCESS))
    tokens = await exchange(provider, config)
    assert tokens.access_token.reveal().startswith("xoxb-")
    assert tokens.scopes == ("commands", "incoming-webhook")
    assert tokens.subject == "U1234"
    assert tokens.extra == {
        "team.id": "T9TK3CUKW",
        "team.name": "Slack Softball Team",
        "enterprise.id": "E12345678",
        "bot_user_id": "U0KRQLJ9H",
        "app_id": "A0KRD7HC3",
    }


async def test_slack_user_token_scopes_go_in_user_scope_and_come_back_under_authed_user() -> None:
    config = configured("slack-user")
    params = query(authorize_url(config))
    assert params["user_scope"] == "channels:read,users:read"
    assert "scope" not in params

    tokens = await exchange(Provider(json_response(SLACK_ACCESS)), config)
    assert tokens.access_token.reveal() == "xoxp-1234-madeup"
    assert tokens.token_type == "user"
    assert tokens.scopes == ("chat:write",)
    assert tokens.subject == "U1234"
    assert tokens.extra["team.id"] == "T9TK3CUKW"


async def test_slack_ok_false_with_http_200_is_an_error() -> None:
    provider = Provider(json_response({"ok": False, "error": "invalid_code"}))
    with pytest.raises(PermanentOAuthError) as caught:
        await exchange(provider, configured("slack"))
    assert caught.value.error == "invalid_code"


async def test_slack_rate_limit_with_http_200_is_transient() -> None:
    provider = Provider(json_response({"ok": False, "error": "ratelimited"}))
    with pytest.raises(TransientOAuthError):
        await exchange(provider, configured("slack"))


async def test_slack_rotated_user_token_refresh_answers_at_top_level() -> None:
    provider = Provider(
        json_response(
            {
                "ok": True,
                "access_token": "xoxe.xoxp-new",
                "token_type": "user",
                "refresh_token": "xoxe-1-new",
                "expires_in": 43200,
                "scope": "chat:write",
                "team": {"id": "T9TK3CUKW"},
            }
        )
    )
    tokens = await refresh(provider, configured("slack-user"), "xoxe-1-old")
    assert tokens.access_token.reveal() == "xoxe.xoxp-new"
    assert tokens.refresh_token.reveal() == "xoxe-1-new"


# -- Salesforce: per-org login domain, no expires_in, instance_url ------------------------------

SALESFORCE_TOKEN = {
    "access_token": "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.made.up",
    "refresh_token": "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrmade.up",
    "signature": "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",
    "scope": "refresh_token api",
    "instance_url": "https://yourInstance.my.salesforce.com",
    "id": "https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
    "token_type": "Bearer",
    "issued_at": "1278448101416",
}


async def test_salesforce_has_no_expires_in_and_keeps_the_instance_url() -> None:
    config = configured("salesforce", {})  # the default: production login
    assert authorize_url(config).startswith(
        "https://login.salesforce.com/services/oauth2/authorize?"
    )
    provider = Provider(json_response(SALESFORCE_TOKEN))
    tokens = await exchange(provider, config, code_verifier="v" * 43)
    assert str(provider.last.url) == "https://login.salesforce.com/services/oauth2/token"
    assert body_of(provider.last)["code_verifier"] == "v" * 43
    assert tokens.expires_at == 0  # unknown, never "no expiry"
    assert tokens.extra["instance_url"] == "https://yourInstance.my.salesforce.com"
    assert tokens.subject == SALESFORCE_TOKEN["id"]
    assert tokens.scopes == ("refresh_token", "api")


async def test_salesforce_sandbox_uses_its_own_login_domain() -> None:
    config = configured("salesforce", {"domain": "test.salesforce.com"})
    assert config.token_url == "https://test.salesforce.com/services/oauth2/token"
    assert config.revocation_url == "https://test.salesforce.com/services/oauth2/revoke"


# -- expires_in as a string (Naver, NetSuite, Exact Online) -----------------------------------


@pytest.mark.parametrize("template_id", ["naver", "netsuite", "exact-online"])
async def test_expires_in_sent_as_a_string_still_sets_the_expiry(template_id: str) -> None:
    provider = Provider(
        json_response(
            {
                "access_token": "at-made-up",
                "refresh_token": "rt-made-up",
                "token_type": "bearer",
                "expires_in": "3600",
            }
        )
    )
    before = int(time.time())
    tokens = await exchange(provider, configured(template_id))
    assert before + 3600 <= tokens.expires_at <= int(time.time()) + 3600


# -- QuickBooks: realmId from the callback, rotating refresh tokens, Basic auth -------------------


async def test_quickbooks_keeps_the_realm_id_from_the_callback() -> None:
    provider = Provider(
        json_response(
            {
                "token_type": "bearer",
                "expires_in": 3600,
                "refresh_token": "Q011511616539Tqk8oYGz8madeup",
                "x_refresh_token_expires_in": 8726400,
                "access_token": "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2madeup",
            }
        )
    )
    tokens = await exchange(
        provider,
        configured("quickbooks"),
        callback_params={"code": "c", "state": "s", "realmId": "4620816365178416240"},
    )
    assert tokens.extra == {"realmId": "4620816365178416240"}
    assert basic_auth(provider.last) == (CLIENT_ID, CLIENT_SECRET)
    assert "client_secret" not in body_of(provider.last)


# -- rotating refresh tokens: Xero, QuickBooks, Atlassian, Zendesk (and more) -------------------


@pytest.mark.parametrize(
    "template_id",
    ["xero", "quickbooks", "jira", "confluence", "zendesk", "airtable", "gitlab", "box"],
)
async def test_rotating_refresh_token_comes_back_new_from_every_refresh(template_id: str) -> None:
    config = configured(template_id)
    assert config.rotates_refresh_token
    provider = Provider(
        json_response(
            {
                "access_token": "at-new",
                "refresh_token": "rt-new",
                "expires_in": 1800,
                "token_type": "Bearer",
            }
        )
    )
    tokens = await refresh(provider, config, "rt-old")
    assert body_of(provider.last)["refresh_token"] == "rt-old"
    assert tokens.refresh_token is not None and tokens.refresh_token.reveal() == "rt-new"


# -- Microsoft: scope again on refresh, tenant in the URLs ---------------------------------------


async def test_microsoft_sends_the_scopes_again_on_refresh() -> None:
    config = configured("microsoft", {})  # tenant defaults to "common"
    assert config.authorization_url == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    )
    provider = Provider(
        json_response(
            {
                "token_type": "Bearer",
                "scope": "openid profile email offline_access User.Read",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": "eyJ0eXAiOiJKV1Qi.made.up",
                "refresh_token": "0.AXEA-made-up",
            }
        )
    )
    await refresh(provider, config)
    assert body_of(provider.last)["scope"] == "openid profile email offline_access User.Read"
    assert str(provider.last.url) == "https://login.microsoftonline.com/common/oauth2/v2.0/token"


def test_microsoft_single_tenant_apps_name_their_tenant() -> None:
    config = configured("microsoft-outlook", {"tenant": "contoso.onmicrosoft.com"})
    assert config.token_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )


# -- Atlassian: audience, prompt=consent, JSON token request ------------------------------------


async def test_atlassian_asks_for_the_api_audience_and_posts_json() -> None:
    config = configured("jira")
    params = query(authorize_url(config))
    assert params["audience"] == "api.atlassian.com"
    assert params["prompt"] == "consent"
    assert "offline_access" in params["scope"].split(" ")

    provider = Provider(
        json_response(
            {
                "access_token": "eyJraWQ.made.up",
                "expires_in": 3600,
                "token_type": "Bearer",
                "refresh_token": "eyJraWQ.rt.made.up",
                "scope": "read:jira-work offline_access",
            }
        )
    )
    await exchange(provider, config)
    assert provider.last.headers["content-type"] == "application/json"
    sent = body_of(provider.last)
    assert sent["grant_type"] == "authorization_code"
    assert sent["client_id"] == CLIENT_ID and sent["client_secret"] == CLIENT_SECRET


# -- Dropbox: token_access_type=offline; Reddit: duration=permanent ------------------------------


def test_dropbox_asks_for_offline_tokens() -> None:
    assert query(authorize_url(configured("dropbox")))["token_access_type"] == "offline"


async def test_dropbox_keeps_the_account_id_as_subject() -> None:
    provider = Provider(
        json_response(
            {
                "access_token": "sl.made-up",
                "expires_in": 14400,
                "token_type": "bearer",
                "scope": "account_info.read files.metadata.read",
                "refresh_token": "rt-made-up",
                "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                "uid": "12345",
            }
        )
    )
    tokens = await exchange(provider, configured("dropbox"))
    assert tokens.subject == "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"
    assert basic_auth(provider.last) == (CLIENT_ID, CLIENT_SECRET)


async def test_reddit_asks_for_a_permanent_grant_with_basic_auth() -> None:
    config = configured("reddit")
    assert query(authorize_url(config))["duration"] == "permanent"
    provider = Provider(
        json_response(
            {
                "access_token": "eyJhbGciOi.made.up",
                "token_type": "bearer",
                "expires_in": 86400,
                "refresh_token": "rt-made-up",
                "scope": "identity read",
            }
        )
    )
    tokens = await exchange(provider, config)
    assert basic_auth(provider.last) == (CLIENT_ID, CLIENT_SECRET)
    assert tokens.scopes == ("identity", "read")


# -- Notion: Basic auth with a JSON body -------------------------------------------------------


async def test_notion_uses_basic_auth_with_a_json_body() -> None:
    config = configured("notion")
    assert query(authorize_url(config))["owner"] == "user"
    provider = Provider(
        json_response(
            {
                "access_token": "ntn_made_up",
                "token_type": "bearer",
                "refresh_token": "nrt_made_up",
                "bot_id": "b3414d659-1224-5ty7-6ffr-cc9d8773drt601288f",
                "workspace_name": "Acme",
                "workspace_icon": "https://example.com/icon.png",
                "workspace_id": "j565j4d7x3-2882-61bs-564a-jj9d9ui-c36hxfr7x",
                "owner": {"type": "user", "user": {"object": "user", "id": "c3b9-made-up"}},
                "duplicated_template_id": None,
                "request_id": "f3c1-made-up",
            }
        )
    )
    tokens = await exchange(provider, config)
    assert basic_auth(provider.last) == (CLIENT_ID, CLIENT_SECRET)
    assert provider.last.headers["content-type"] == "application/json"
    assert body_of(provider.last) == {
        "grant_type": "authorization_code",
        "code": "code-from-the-callback",
        "redirect_uri": "https://vault.example/v1/outbound/oauth/callback",
    }
    assert tokens.subject == "c3b9-made-up"
    assert tokens.extra["workspace_id"] == "j565j4d7x3-2882-61bs-564a-jj9d9ui-c36hxfr7x"
    assert tokens.refresh_token.reveal() == "nrt_made_up"


# -- Figma: a separate refresh URL ---------------------------------------------------------------


async def test_figma_exchanges_codes_and_refreshes_at_different_urls() -> None:
    config = configured("figma")
    answer = json_response(
        {
            "user_id_string": "12345",
            "access_token": "figu_made_up",
            "token_type": "bearer",
            "expires_in": 7776000,
            "refresh_token": "figur_made_up",
        }
    )
    provider = Provider(answer)
    tokens = await exchange(provider, config)
    assert str(provider.last.url) == "https://api.figma.com/v1/oauth/token"
    assert tokens.subject == "12345"

    provider = Provider(
        json_response(
            {
                "access_token": "figu_new",
                "token_type": "bearer",
                "expires_in": 7776000,
            }
        )
    )
    tokens = await refresh(provider, config, "figur_made_up")
    assert str(provider.last.url) == "https://api.figma.com/v1/oauth/refresh"
    assert tokens.refresh_token is None  # the old one stays valid


# -- Exact Online: refreshing is refused until shortly before expiry ------------------------------


def test_exact_online_refreshes_only_in_the_last_30_seconds() -> None:
    config = configured("exact-online", {})
    assert config.token_url == "https://start.exactonline.nl/api/oauth2/token"
    now = 1_000_000.0
    expires_at = int(now) + 600  # Exact's access tokens last ten minutes
    # Even with a five-minute default margin, a token with 10 minutes left is served...
    assert not needs_refresh(config, expires_at, now, default_margin=300)
    assert not refresh_allowed(config, expires_at, now)
    # ...and refreshed in its last 30 seconds, when Exact accepts it.
    assert needs_refresh(config, expires_at, now + 575, default_margin=300)
    assert refresh_allowed(config, expires_at, now + 575)


# -- Stripe: no expires_in, the connected account id ---------------------------------------------


async def test_stripe_connect_keeps_the_connected_account() -> None:
    provider = Provider(
        json_response(
            {
                "access_token": "sk_test_made_up",
                "livemode": False,
                "refresh_token": "rt_made_up",
                "token_type": "bearer",
                "stripe_publishable_key": "pk_test_made_up",
                "stripe_user_id": "acct_1032D82eZvKYlo2C",
                "scope": "read_write",
            }
        )
    )
    tokens = await exchange(provider, configured("stripe"))
    assert tokens.expires_at == 0
    assert tokens.subject == "acct_1032D82eZvKYlo2C"
    assert tokens.extra == {"stripe_user_id": "acct_1032D82eZvKYlo2C", "livemode": False}
    assert body_of(provider.last)["client_secret"] == CLIENT_SECRET


# -- Shopify: per-shop URLs, comma-separated scopes, no refresh token ----------------------------


async def test_shopify_talks_to_the_shop_and_reads_comma_scopes() -> None:
    config = configured("shopify", {"shop": "my-store"})
    url = authorize_url(config)
    assert url.startswith("https://my-store.myshopify.com/admin/oauth/authorize?")
    assert query(url)["scope"] == "read_products,read_orders"
    provider = Provider(
        json_response(
            {
                "access_token": "shpat_made_up",
                "scope": "write_orders,read_customers",
            }
        )
    )
    tokens = await exchange(
        provider, config, callback_params={"shop": "my-store.myshopify.com", "hmac": "x"}
    )
    assert str(provider.last.url) == "https://my-store.myshopify.com/admin/oauth/access_token"
    assert tokens.scopes == ("write_orders", "read_customers")
    assert tokens.refresh_token is None
    assert tokens.extra == {"shop": "my-store.myshopify.com"}


# -- TikTok: the client id is called client_key -------------------------------------------------


async def test_tiktok_names_the_client_id_client_key() -> None:
    config = configured("tiktok")
    params = query(authorize_url(config))
    assert params["client_key"] == CLIENT_ID and "client_id" not in params
    assert params["scope"] == "user.info.basic"
    provider = Provider(
        json_response(
            {
                "access_token": "act.made.up",
                "expires_in": 86400,
                "open_id": "afd97af1-b87b-48b9",
                "refresh_expires_in": 31536000,
                "refresh_token": "rft.made.up",
                "scope": "user.info.basic,video.list",
                "token_type": "Bearer",
            }
        )
    )
    tokens = await exchange(provider, config)
    sent = body_of(provider.last)
    assert sent["client_key"] == CLIENT_ID and "client_id" not in sent
    assert sent["client_secret"] == CLIENT_SECRET
    assert tokens.subject == "afd97af1-b87b-48b9"
    assert tokens.scopes == ("user.info.basic", "video.list")


# -- Twitch: scopes as a JSON array --------------------------------------------------------------


async def test_twitch_lists_scopes_as_an_array() -> None:
    provider = Provider(
        json_response(
            {
                "access_token": "rfx2uswqe8l4g1mkagrvg5tv0ks3",
                "expires_in": 14124,
                "refresh_token": "5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01",
                "scope": ["channel:moderate", "chat:edit", "chat:read"],
                "token_type": "bearer",
            }
        )
    )
    tokens = await exchange(provider, configured("twitch"))
    assert tokens.scopes == ("channel:moderate", "chat:edit", "chat:read")


# -- Zendesk: per-subdomain URLs, JSON body -------------------------------------------------------


async def test_zendesk_uses_the_account_subdomain_and_json() -> None:
    config = configured("zendesk", {"subdomain": "acme"})
    assert authorize_url(config).startswith("https://acme.zendesk.com/oauth/authorizations/new?")
    provider = Provider(
        json_response(
            {
                "access_token": "gErypPlm4dOVgGRvA1ZzMH5MQ3nLo8bo",
                "refresh_token": "31048ba4d7c6",
                "token_type": "bearer",
                "scope": "read write",
                "expires_in": 172800,
                "refresh_token_expires_in": 800000,
            }
        )
    )
    tokens = await refresh(provider, config)
    assert str(provider.last.url) == "https://acme.zendesk.com/oauth/tokens"
    assert provider.last.headers["content-type"] == "application/json"
    assert tokens.refresh_token.reveal() == "31048ba4d7c6"


# -- Square: JSON body, expires_at instead of expires_in -------------------------------------------


async def test_square_posts_json_and_keeps_expires_at() -> None:
    provider = Provider(
        json_response(
            {
                "access_token": "EAAAEOuLQObrVwJvCvoio-made-up",
                "token_type": "bearer",
                "expires_at": "2026-03-31T18:33:28Z",
                "merchant_id": "MLQW3EAXQZQ1G",
                "refresh_token": "EQAAEFSCJdzIQ-made-up",
                "short_lived": False,
            }
        )
    )
    tokens = await exchange(provider, configured("square"))
    assert body_of(provider.last)["client_secret"] == CLIENT_SECRET
    assert provider.last.headers["content-type"] == "application/json"
    assert tokens.expires_at == 0
    assert tokens.extra["expires_at"] == "2026-03-31T18:33:28Z"
    assert tokens.subject == "MLQW3EAXQZQ1G"


# -- Strava: the athlete comes with the token --------------------------------------------------


async def test_strava_keeps_the_athlete_id() -> None:
    provider = Provider(
        json_response(
            {
                "token_type": "Bearer",
                "expires_at": 1568775134,
                "expires_in": 21600,
                "refresh_token": "e5n567567-made-up",
                "access_token": "a4b945687g-made-up",
                "athlete": {"id": 134815, "username": "marianne_t"},
            }
        )
    )
    tokens = await exchange(provider, configured("strava"))
    assert tokens.subject == "134815"
    assert tokens.extra == {"athlete.id": 134815}


# -- PKCE: sent only to providers that support it ----------------------------------------------


async def test_x_requires_pkce_and_gets_the_verifier_with_basic_auth() -> None:
    config = configured("x")
    assert config.pkce
    assert query(authorize_url(config, code_challenge="c" * 43))["code_challenge_method"] == "S256"
    provider = Provider(
        json_response(
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": "VGNibzFWSWJ-made-up",
                "scope": "tweet.read users.read offline.access",
                "refresh_token": "bWRWZE-made-up",
            }
        )
    )
    await exchange(provider, config, code_verifier="v" * 43)
    assert body_of(provider.last)["code_verifier"] == "v" * 43
    assert basic_auth(provider.last) == (CLIENT_ID, CLIENT_SECRET)


def test_providers_without_pkce_are_configured_without_it() -> None:
    assert not configured("slack").pkce
    # an app may turn PKCE off, never on for a provider that does not support it
    assert not configured("google", overrides={"pkce": False}).pkce
    assert not configured("slack", overrides={"pkce": True}).pkce


# -- discovery: Okta, Auth0, Keycloak, generic OIDC --------------------------------------------


@pytest.mark.parametrize(
    ("template_id", "values", "issuer"),
    [
        ("okta", {"domain": "dev-123.okta.com"}, "https://dev-123.okta.com/oauth2/default"),
        ("auth0", {"domain": "acme.us.auth0.com"}, "https://acme.us.auth0.com"),
        (
            "keycloak",
            {"host": "sso.example.com", "realm": "staff"},
            "https://sso.example.com/realms/staff",
        ),
        ("oidc", {"issuer": "https://login.example.com/"}, "https://login.example.com"),
        ("onelogin", {"subdomain": "acme"}, "https://acme.onelogin.com/oidc/2"),
    ],
)
async def test_discovery_templates_find_their_endpoints(
    template_id: str, values: dict[str, str], issuer: str
) -> None:
    config = configured(template_id, values)
    assert config.discovery_url == f"{issuer}/.well-known/openid-configuration"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return json_response(
                {
                    "issuer": issuer,
                    "authorization_endpoint": f"{issuer}/authorize",
                    "token_endpoint": f"{issuer}/token",
                    "revocation_endpoint": f"{issuer}/revoke",
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_basic",
                        "client_secret_post",
                    ],
                }
            )
        return json_response(
            {
                "access_token": "at",
                "refresh_token": "rt",
                "expires_in": 3600,
                "token_type": "Bearer",
                "scope": "openid profile email",
            }
        )

    provider = Provider(answer)
    async with provider.client() as client:
        resolved = await client.resolve(config)
        url = client.authorization_url(
            resolved,
            redirect_uri="https://vault.example/cb",
            state="s",
            scopes=(),
            code_challenge="c" * 43,
        )
        await client.exchange_code(
            resolved, code="c", redirect_uri="https://vault.example/cb", code_verifier="v" * 43
        )
    assert url.startswith(f"{issuer}/authorize?")
    assert query(url)["scope"].startswith("openid")
    assert str(provider.last.url) == f"{issuer}/token"
    assert resolved.revocation_url == f"{issuer}/revoke"


# -- revocation in the provider's own format: Notion, Intuit, TikTok ----------------------------
#
# RFC 7009 asks for a form body with token_type_hint; these three document something else, and
# the server revokes with whatever the template says (refresh token first where it is taken).


async def revoke(provider: Provider, config: ProviderConfig, token: str, hint: str) -> bool:
    async with provider.client() as client:
        return await client.revoke(config, Secret(token), hint=hint)


async def test_notion_revokes_the_access_token_with_a_json_body() -> None:
    # developers.notion.com/reference/revoke-token: Basic auth, Notion-Version, {"token": …},
    # answered {"request_id": …}.
    config = configured("notion")
    provider = Provider(json_response({"request_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"}))

    assert await revoke(provider, config, "ntn_made_up", "access_token") is True

    sent = provider.last
    assert sent.method == "POST" and str(sent.url) == "https://api.notion.com/v1/oauth/revoke"
    assert basic_auth(sent) == (CLIENT_ID, CLIENT_SECRET)
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["notion-version"] == "2025-09-03"
    assert json.loads(sent.content) == {"token": "ntn_made_up"}
    # Notion's revocation takes access tokens: a refresh token is not sent anywhere.
    assert await revoke(provider, config, "nrt_made_up", "refresh_token") is False
    assert len(provider.requests) == 1


async def test_notion_names_its_api_version_on_token_requests_too() -> None:
    provider = Provider(
        json_response(
            {
                "access_token": "ntn_new",
                "token_type": "bearer",
                "refresh_token": "nrt_new",
                "bot_id": "b-1",
                "workspace_id": "w-1",
                "owner": {"type": "workspace", "workspace": True},
            }
        )
    )
    await refresh(provider, configured("notion"))
    assert provider.last.headers["notion-version"] == "2025-09-03"
    assert body_of(provider.last) == {"grant_type": "refresh_token", "refresh_token": "rt-old"}


async def test_notion_error_object_is_read_for_its_code() -> None:
    # Notion answers errors as {"object": "error", "status", "code", "message"}, not RFC 6749's
    # {"error": …}: a refused refresh still names invalid_grant.
    provider = Provider(
        json_response(
            {
                "object": "error",
                "status": 400,
                "code": "invalid_grant",
                "message": "Invalid refresh token.",
                "additional_data": {},
            },
            status=400,
        )
    )
    with pytest.raises(PermanentOAuthError) as caught:
        await refresh(provider, configured("notion"))
    assert caught.value.error == "invalid_grant"
    assert caught.value.description == "Invalid refresh token."

    provider = Provider(
        json_response(
            {
                "object": "error",
                "status": 401,
                "code": "invalid_client",
                "message": "Invalid client",
                "additional_data": {},
            },
            status=401,
        )
    )
    with pytest.raises(PermanentOAuthError) as caught:
        await revoke(provider, configured("notion"), "ntn_made_up", "access_token")
    assert caught.value.error == "invalid_client"


@pytest.mark.parametrize("hint", ["refresh_token", "access_token"])
async def test_intuit_revokes_either_token_with_a_json_body(hint: str) -> None:
    # Intuit's OAuth 2.0 guide and its client library: POST …/v2/oauth2/tokens/revoke, Basic
    # auth, Accept and Content-Type application/json, body {"token": …}; success is HTTP 200
    # with no body.
    config = configured("quickbooks")
    provider = Provider(httpx.Response(200))

    assert await revoke(provider, config, f"{hint}-made-up", hint) is True

    sent = provider.last
    assert str(sent.url) == "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    assert basic_auth(sent) == (CLIENT_ID, CLIENT_SECRET)
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept"] == "application/json"
    assert json.loads(sent.content) == {"token": f"{hint}-made-up"}


async def test_tiktok_revokes_the_access_token_with_client_key() -> None:
    # developers.tiktok.com "Revoke a User Access Token": POST /v2/oauth/revoke/, form body
    # client_key, client_secret, token; success is an empty JSON object.
    config = configured("tiktok")
    provider = Provider(json_response({}))

    assert await revoke(provider, config, "act.made.up", "access_token") is True

    sent = provider.last
    assert str(sent.url) == "https://open.tiktokapis.com/v2/oauth/revoke/"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in sent.headers
    assert body_of(sent) == {
        "token": "act.made.up",
        "client_key": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    # TikTok's endpoint takes the access token only.
    assert await revoke(provider, config, "rft.made.up", "refresh_token") is False
    assert len(provider.requests) == 1


@pytest.mark.parametrize("status", [200, 400])
async def test_tiktok_revocation_error_is_an_error_whatever_the_status(status: int) -> None:
    # TikTok's OAuth error struct: error, error_description, log_id.
    provider = Provider(
        json_response(
            {
                "error": "invalid_request",
                "error_description": "The access token is invalid.",
                "log_id": "202206221854370101130062072500FFA2",
            },
            status=status,
        )
    )
    with pytest.raises(PermanentOAuthError) as caught:
        await revoke(provider, configured("tiktok"), "act.made.up", "access_token")
    assert caught.value.error == "invalid_request"
    assert "act.made.up" not in str(caught.value) and CLIENT_SECRET not in str(caught.value)


async def test_deleting_a_tiktok_token_revokes_its_access_token_only() -> None:
    # The server's delete path: refresh token first where the provider takes it — TikTok does
    # not, so its access token is still revoked (not skipped for want of a refresh endpoint).
    config = configured("tiktok")
    provider = Provider(json_response({}))
    token = TokenRecord(
        id="t-1",
        project_id="P1",
        app_id="app-1",
        user_id="u-1",
        tenant_id="",
        external_identifier="",
        scopes=["user.info.basic"],
        access_token=Secret("act.made.up"),
        refresh_token=Secret("rft.made.up"),
        id_token=None,
        access_token_type="Bearer",
        access_token_expiry=0,
        last_refresh_time=0,
        last_refresh_error="",
        needs_reconnect=False,
        token_sub="",
        granted_by="",
        extra={},
        created_at=0,
        updated_at=0,
        version=1,
    )
    async with provider.client() as client:
        providers = Providers(store=None, client=client)  # type: ignore[arg-type]
        await revoke_tokens(providers, [token], configs={"app-1": config})
    assert [body_of(request)["token"] for request in provider.requests] == ["act.made.up"]
