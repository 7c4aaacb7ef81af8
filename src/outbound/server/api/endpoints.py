"""Every endpoint the server answers, one entry each: the table the OpenAPI document is built
from (``openapi.py``).

An entry names the request body struct the handler decodes with (``wire.py``), the answer's
struct (``answers.py``), the query parameters (a struct of their own), and the error codes the
operation can answer beyond the ones every request can (``errors.ERROR_CODES``). A test fails
when a route of the app (or of the hot path) has no entry here, or an entry no route
(tests/server/test_openapi.py): a new route is one line added below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from ...audit.events import ACTIONS
from ..http import answers as a
from ..http import wire as w
from .webhooks import WebhookCreate, WebhookRotate

__all__ = ["ENDPOINTS", "Endpoint"]

Auth = Literal["key", "fetch", "session", "none"]
Media = Literal["json", "html", "form", "oauth", "proxy"]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # Starlette's form without converters: /v1/mgmt/outbound/app/{id}
    operation_id: str
    tag: str
    summary: str
    body: type[Any] | None = None
    answer: type[Any] | None = a.Empty
    errors: tuple[str, ...] = ()
    query: type[Any] | None = None
    # key: a full management key; fetch: a full or fetch-only key; session: an end user's
    # session token (Bearer <projectId>:<sessionJwt>); none: no credentials
    auth: Auth = "key"
    # html: a page for a browser; form: a browser's form post; proxy: the provider's API
    media: Media = "json"
    example: dict[str, Any] | None = None
    # Body fields the handler requires present and not empty (``require`` in the handlers;
    # the structs take every field as optional, since clients send null for absent ones):
    # "app.id" is a field of a nested object.
    needs: tuple[str, ...] = ()


# -- query parameters: the same Id rule the handlers check them with (routes/tokens._query_id)


def _q(example: str) -> Any:
    return Annotated[w.Id, Meta(examples=[example])]


Limit = Annotated[int, Meta(ge=1, le=1000, description="page size (default 100)")]
Cursor = Annotated[
    str,
    Meta(max_length=1024, description="the nextCursor of the previous page (opaque, signed)"),
]


class AppIdQuery(msgspec.Struct):
    id: _q("app-id")  # type: ignore[valid-type]


class TokenIdQuery(msgspec.Struct):
    id: _q("token-id")  # type: ignore[valid-type]


class UserTokensQuery(msgspec.Struct, rename="camel"):
    """At least one of the two. (The Node SDK sends an omitted one as ``undefined``.)"""

    app_id: _q("app-id") | None = None  # type: ignore[valid-type]
    user_id: _q("user-id") | None = None  # type: ignore[valid-type]


class AppsWithTokenQuery(msgspec.Struct, rename="camel"):
    user_id: _q("user-id")  # type: ignore[valid-type]
    tenant_id: _q("tenant-id") | None = None  # type: ignore[valid-type]


class ConnectionsQuery(msgspec.Struct, rename="camel"):
    app_id: _q("app-id") | None = None  # type: ignore[valid-type]
    user_id: _q("user-id") | None = None  # type: ignore[valid-type]
    tenant_id: _q("tenant-id") | None = None  # type: ignore[valid-type]
    status: Literal["active", "refresh_failing", "reconnect_required"] | None = None
    # one metadata key: metadata[plan]=pro, or as people type it, metadata.plan=pro
    metadata: (
        Annotated[
            dict[str, str],
            Meta(
                description="connections whose metadata holds this value at this top-level"
                " key: metadata[plan]=pro (or metadata.plan=pro); one key per request; a"
                " value that reads as a JSON number, true, false or null also matches that",
                max_length=1,
            ),
        ]
        | None
    ) = None
    limit: Limit | None = None
    cursor: Cursor | None = None


class AuditQuery(msgspec.Struct, rename="camel"):
    since: Annotated[str, Meta(description="epoch seconds or ISO 8601 with a zone")] | None = None
    until: Annotated[str, Meta(description="epoch seconds or ISO 8601 with a zone")] | None = None
    action: Literal[ACTIONS] | None = None  # type: ignore[valid-type]
    app_id: _q("app-id") | None = None  # type: ignore[valid-type]
    user_id: _q("user-id") | None = None  # type: ignore[valid-type]
    limit: Limit | None = None
    cursor: Cursor | None = None
    after_seq: (
        Annotated[
            int,
            Meta(ge=0, le=2**62, description="only events after this seq (when no cursor)"),
        ]
        | None
    ) = None


class PageQuery(msgspec.Struct):
    limit: Limit | None = None
    cursor: Cursor | None = None


class LinkQuery(msgspec.Struct):
    link: Annotated[str, Meta(description="the link id of a connect link")] | None = None


class StartForm(msgspec.Struct):
    link: str | None = None
    form: (
        Annotated[str, Meta(description="the form token the link page gave this browser")] | None
    ) = None


class TokenExchangeForm(msgspec.Struct):
    """RFC 8693 §2.1, as ``application/x-www-form-urlencoded``."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:token-exchange"]
    subject_token: Annotated[str, Meta(description="the user's JWT access token")]
    subject_token_type: Literal[
        "urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:jwt"
    ]
    audience: Annotated[str, Meta(description="the outbound app's id")]
    scope: (
        Annotated[str, Meta(description="space-separated: a token holding at least these")] | None
    ) = None
    requested_token_type: Literal["urn:ietf:params:oauth:token-type:access_token"] | None = None
    client_id: (
        Annotated[
            str,
            Meta(description="the project id; when absent, the one project trusting the issuer"),
        ]
        | None
    ) = None


class CallbackQuery(msgspec.Struct):
    """What the provider sends back (RFC 6749 §4.1.2); other parameters pass through."""

    state: str | None = None
    code: str | None = None
    error: str | None = None
    iss: str | None = None


# -- error codes beyond the ones every request can answer (openapi.ALWAYS) --------------------

BODY = ("E011001", "E011002", "E011003", "E130413")
APP = ("E131001",)
PROVIDER = ("E131010", "E131011", "E131014")
FETCH = (*BODY, "E111504", "E131001", "E131013", *PROVIDER)
CONNECT = (*BODY, "E011004", "E131001", "E131014", "E130429")

MGMT = "/v1/mgmt/outbound"
FETCH_EXAMPLE = {"appId": "app-id", "userId": "user-id"}
SCOPES_EXAMPLE = {**FETCH_EXAMPLE, "scopes": ["read", "write"]}
TENANT_EXAMPLE = {"appId": "app-id", "tenantId": "tenant-id"}
APP_EXAMPLE = {
    "id": "google-drive",
    "name": "Google Drive",
    "clientId": "1234.apps.googleusercontent.com",
    "clientSecret": "client-secret",
    "discoveryUrl": "https://accounts.google.com/.well-known/openid-configuration",
    "defaultScopes": ["https://www.googleapis.com/auth/drive.readonly"],
    "defaultRedirectUrl": "https://app.example.com/connected",
    "accessType": "offline",
    "prompt": ["consent"],
}
UPLOAD_EXAMPLE = {
    **FETCH_EXAMPLE,
    "refreshToken": "refresh-token",
    "accessToken": "access-token",
    "accessTokenExpiry": 4102444800,  # 2100-01-01
    "scopes": ["read", "write"],
}

PROXY = (
    "E111504",
    "E131001",
    "E131010",
    "E131011",
    "E131013",
    "E131014",
    "E131020",
    "E131021",
    "E131022",
    "E131024",
    "E011002",
    "E130405",
)
PROXY_PATH = "/v1/outbound/proxy/{appId}/{path}"
PROXY_SUMMARY = "Call the provider's API at the app's apiBaseUrl + path with the connection's credential (docs/proxy.md)"  # noqa: E501

E = Endpoint
# One line per endpoint (a table: the formatter leaves it alone).
# fmt: off
ENDPOINTS: list[Endpoint] = [
    # -- the Descope-compatible management API
    E("POST", f"{MGMT}/app/create", "createApp", "apps", "Create an outbound app", w.AppFields, a.AppAnswer, (*BODY, "E011004", "E131002"), example=APP_EXAMPLE, needs=("name",)),  # noqa: E501
    E("POST", f"{MGMT}/app/create/bytemplate", "createAppByTemplate", "apps", "Create an outbound app from a provider template", w.CreateByTemplate, a.AppAnswer, (*BODY, "E011004", "E131002", "E131003"), example={"templateId": "github", "clientId": "Iv1.0123", "clientSecret": "client-secret"}, needs=("templateId",)),  # noqa: E501
    E("POST", f"{MGMT}/app/update", "updateApp", "apps", "Overwrite an outbound app (an omitted clientSecret is kept); the fields inside \"app\", or flat as the Java SDK sends them", w.AppUpdate, a.AppAnswer, (*BODY, "E011004", "E131001", "E131002"), example={"app": APP_EXAMPLE}, needs=("app.id", "app.name")),  # noqa: E501
    E("POST", f"{MGMT}/app/delete", "deleteApp", "apps", "Delete an outbound app, its tokens (revoked at the provider) and links", w.AppDelete, a.Empty, (*BODY, *APP), example={"id": "app-id"}, needs=("id",)),  # noqa: E501
    E("GET", f"{MGMT}/app/{{id}}", "loadApp", "apps", "Load an outbound app", answer=a.AppAnswer, errors=APP),  # noqa: E501
    E("GET", f"{MGMT}/app", "loadAppByQuery", "apps", "Load an outbound app (id in the query)", answer=a.AppAnswer, errors=("E011002", "E011003", *APP), query=AppIdQuery),  # noqa: E501
    E("GET", f"{MGMT}/apps", "loadAllApps", "apps", "List the project's outbound apps", answer=a.AppsAnswer),  # noqa: E501
    E("POST", f"{MGMT}/app/user/token", "fetchUserTokenByScopes", "tokens", "Fetch a user's token holding these scopes", w.FetchToken, a.TokenAnswer, FETCH, auth="fetch", example=SCOPES_EXAMPLE, needs=("appId", "userId", "scopes")),  # noqa: E501
    E("POST", f"{MGMT}/app/user/token/latest", "fetchUserToken", "tokens", "Fetch a user's latest token", w.FetchToken, a.TokenAnswer, FETCH, auth="fetch", example=FETCH_EXAMPLE, needs=("appId", "userId")),  # noqa: E501
    E("POST", f"{MGMT}/app/tenant/token", "fetchTenantTokenByScopes", "tokens", "Fetch a tenant's token holding these scopes", w.FetchToken, a.TokenAnswer, FETCH, auth="fetch", example={**TENANT_EXAMPLE, "scopes": ["read", "write"]}, needs=("appId", "tenantId", "scopes")),  # noqa: E501
    E("POST", f"{MGMT}/app/tenant/token/latest", "fetchTenantToken", "tokens", "Fetch a tenant's latest token", w.FetchToken, a.TokenAnswer, FETCH, auth="fetch", example=TENANT_EXAMPLE, needs=("appId", "tenantId")),  # noqa: E501
    E("DELETE", f"{MGMT}/token", "deleteToken", "tokens", "Delete a token by id (revoked at the provider); the id in the query, or in a JSON body as the Java SDK sends it", errors=("E011002", "E011003", "E111504"), query=TokenIdQuery),  # noqa: E501
    E("DELETE", f"{MGMT}/user/tokens", "deleteUserTokens", "tokens", "Delete a user's tokens of an app, of every app, or every user's of an app", errors=("E011002", "E011003"), query=UserTokensQuery),  # noqa: E501
    E("DELETE", f"{MGMT}/tokens", "deleteUserTokensJava", "tokens", "The same as DELETE /user/tokens, at the official Java SDK's path (appId/userId in the query or a JSON body)", errors=("E011002", "E011003"), query=UserTokensQuery),  # noqa: E501
    E("GET", f"{MGMT}/apps-with-user-token", "appsWithUserToken", "tokens", "The apps where a user holds a usable token", answer=a.AppIdsAnswer, errors=("E011002", "E011003"), query=AppsWithTokenQuery),  # noqa: E501
    E("POST", f"{MGMT}/app/user/apikey/upload", "uploadUserApiKey", "uploads", "Store a user's API key", w.ApiKeyUpload, a.Empty, (*BODY, *APP), example={**FETCH_EXAMPLE, "apiKey": "api-key"}, needs=("appId", "userId", "apiKey")),  # noqa: E501
    E("POST", f"{MGMT}/app/tenant/apikey/upload", "uploadTenantApiKey", "uploads", "Store a tenant's API key", w.ApiKeyUpload, a.Empty, (*BODY, *APP), example={**TENANT_EXAMPLE, "apiKey": "api-key"}, needs=("appId", "tenantId", "apiKey")),  # noqa: E501
    E("POST", f"{MGMT}/app/user/oauthtoken/upload", "uploadUserToken", "uploads", "Store a user's OAuth token", w.TokenUpload, a.Empty, (*BODY, *APP, *PROVIDER, "E131015"), example=UPLOAD_EXAMPLE, needs=("appId", "userId")),  # noqa: E501
    E("POST", f"{MGMT}/app/tenant/oauthtoken/upload", "uploadTenantToken", "uploads", "Store a tenant's OAuth token", w.TokenUpload, a.Empty, (*BODY, *APP, *PROVIDER, "E131015"), example={**UPLOAD_EXAMPLE, "userId": None, "tenantId": "tenant-id"}, needs=("appId", "tenantId")),  # noqa: E501
    E("POST", f"{MGMT}/app/user/oauthtoken/batch/upload", "batchUploadUserTokens", "uploads", "Store many users' OAuth tokens, all or nothing", w.BatchUpload, a.FailuresAnswer, BODY, example={"tokens": [UPLOAD_EXAMPLE]}, needs=("tokens",)),  # noqa: E501
    E("POST", f"{MGMT}/app/tenant/oauthtoken/batch/upload", "batchUploadTenantTokens", "uploads", "Store many tenants' OAuth tokens, all or nothing", w.BatchUpload, a.FailuresAnswer, BODY, example={"tokens": [{**UPLOAD_EXAMPLE, "userId": None, "tenantId": "tenant-id"}]}, needs=("tokens",)),  # noqa: E501
    E("POST", f"{MGMT}/app/tenant/installation/upload", "uploadTenantInstallation", "uploads", "Store a GitHub App installation as a tenant's connection, checked with GitHub first (docs/grants.md)", w.InstallationUpload, a.InstallationAnswer, (*BODY, *APP, "E011004", "E131011", "E131014", "E131016"), example={**TENANT_EXAMPLE, "installationId": 12345678}, needs=("appId", "tenantId", "installationId")),  # noqa: E501
    E("GET", "/v1/mgmt/license", "license", "meta", "The license handshake of the official Python SDK", answer=a.LicenseAnswer),  # noqa: E501
    # -- connecting
    E("POST", f"{MGMT}/app/connect", "connect", "connect", "A connect link for a user's (or tenant's) browser, or a device-flow connect (options.flow = device)", w.Connect, a.LinkAnswer, (*CONNECT, "E131011"), example={**FETCH_EXAMPLE, "options": {"redirectUrl": "https://app.example.com/connected", "scopes": ["read"]}}, needs=("appId",)),  # noqa: E501
    E("GET", f"{MGMT}/connect/{{id}}", "deviceConnectStatus", "connect", "A device-flow connect's status: pending, connected or failed (with the reason)", answer=a.DeviceConnectAnswer, errors=("E131040",)),  # noqa: E501
    E("POST", "/v1/outbound/oauth/connect", "sessionConnect", "connect", "A connect link for the signed-in end user (from the browser)", w.Connect, a.LinkAnswer, CONNECT, auth="session", example={"appId": "app-id", "options": {"redirectUrl": "https://app.example.com/connected"}}, needs=("appId",)),  # noqa: E501
    E("GET", "/v1/outbound/oauth/start", "connectPage", "connect", "The page a connect link opens (changes nothing)", answer=None, query=LinkQuery, auth="none", media="html"),  # noqa: E501
    E("POST", "/v1/outbound/oauth/start", "connectStart", "connect", "The page's Continue: on to the provider's consent", StartForm, None, auth="none", media="form"),  # noqa: E501
    E("POST", "/v1/outbound/oauth/token", "tokenExchange", "agents", "RFC 8693 token exchange: the user's access token for their provider token (docs/agents.md)", TokenExchangeForm, a.TokenExchangeAnswer, auth="none", media="oauth", example={"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": "eyJ…", "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "audience": "google-calendar"}),  # noqa: E501
    E("GET", "/.well-known/oauth-authorization-server", "authorizationServerMetadata", "agents", "RFC 8414 metadata naming the token-exchange endpoint", answer=a.AuthorizationServerMetadata, auth="none"),  # noqa: E501
    E("GET", "/v1/outbound/oauth/callback/{project_id}", "connectCallback", "connect", "Where the provider sends the browser back (the app's project's callback)", answer=None, query=CallbackQuery, auth="none", media="html"),  # noqa: E501
    E("GET", "/v1/outbound/oauth/callback", "connectSharedCallback", "connect", "The callback of apps created before callbacks were per project", answer=None, query=CallbackQuery, auth="none", media="html"),  # noqa: E501
    # -- outbound's own
    E("GET", f"{MGMT}/templates", "listTemplates", "templates", "The provider catalog", answer=a.TemplatesAnswer),  # noqa: E501
    E("GET", f"{MGMT}/templates/{{id}}", "loadTemplate", "templates", "One provider template", answer=a.TemplateAnswer, errors=("E131003",)),  # noqa: E501
    E("GET", f"{MGMT}/connections", "listConnections", "connections", "The project's connections and their status", answer=a.ConnectionsAnswer, errors=("E011003",), query=ConnectionsQuery),  # noqa: E501
    E("POST", f"{MGMT}/connections/{{id}}/metadata", "setConnectionMetadata", "connections", "Replace a connection's metadata ({} clears it)", w.ConnectionMetadata, a.ConnectionAnswer, (*BODY, "E111504"), example={"metadata": {"plan": "pro", "workspace": "acme"}}, needs=("metadata",)),  # noqa: E501
    E("POST", f"{MGMT}/connections/{{id}}/verify", "verifyConnection", "connections", "Ask the provider whose account a connection is (the template's whoami request, made with its token; the token is never shown)", answer=a.VerificationAnswer, errors=("E111504",)),  # noqa: E501
    E("GET", f"{MGMT}/audit", "listAuditEvents", "audit", "The project's audit log, oldest first", answer=a.AuditAnswer, errors=("E011003",), query=AuditQuery),  # noqa: E501
    E("GET", "/v1/outbound/oauth/client/{project}/{app}", "clientMetadataDocument", "connect", "An MCP app's Client ID Metadata Document (public)", answer=a.ClientMetadataDocument, errors=("E131001",), auth="none"),  # noqa: E501
    E("POST", f"{MGMT}/webhooks", "createWebhook", "webhooks", "Add a webhook endpoint (its secret is shown once)", WebhookCreate, a.WebhookSecretAnswer, (*BODY, "E011004"), example={"url": "https://app.example.com/hooks/outbound", "events": ["connection.reconnect_required"]}, needs=("url",)),  # noqa: E501
    E("GET", f"{MGMT}/webhooks", "listWebhooks", "webhooks", "The project's webhook endpoints", answer=a.WebhooksAnswer),  # noqa: E501
    E("DELETE", f"{MGMT}/webhooks/{{webhook_id}}", "deleteWebhook", "webhooks", "Remove a webhook endpoint", errors=("E131030",)),  # noqa: E501
    E("POST", f"{MGMT}/webhooks/{{webhook_id}}/rotate", "rotateWebhookSecret", "webhooks", "A new signing secret; the old one signs alongside for overlapSeconds", WebhookRotate, a.WebhookSecretAnswer, (*BODY, "E131030"), example={"overlapSeconds": 3600}),  # noqa: E501
    E("GET", f"{MGMT}/webhooks/{{webhook_id}}/deliveries", "listWebhookDeliveries", "webhooks", "A webhook's deliveries, newest first, with their attempts", answer=a.DeliveriesAnswer, errors=("E011003", "E131030"), query=PageQuery),  # noqa: E501
    E("POST", f"{MGMT}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/retry", "retryWebhookDelivery", "webhooks", "Send a delivery again", answer=a.DeliveryAnswer, errors=("E131030", "E131031")),  # noqa: E501
    # -- the provider-API proxy (docs/proxy.md)
    E("GET", PROXY_PATH, "proxyGet", "proxy", PROXY_SUMMARY, answer=None, errors=PROXY, auth="fetch", media="proxy"),  # noqa: E501
    E("POST", PROXY_PATH, "proxyPost", "proxy", PROXY_SUMMARY, answer=None, errors=PROXY, auth="fetch", media="proxy"),  # noqa: E501
    E("PUT", PROXY_PATH, "proxyPut", "proxy", PROXY_SUMMARY, answer=None, errors=PROXY, auth="fetch", media="proxy"),  # noqa: E501
    E("PATCH", PROXY_PATH, "proxyPatch", "proxy", PROXY_SUMMARY, answer=None, errors=PROXY, auth="fetch", media="proxy"),  # noqa: E501
    E("DELETE", PROXY_PATH, "proxyDelete", "proxy", PROXY_SUMMARY, answer=None, errors=PROXY, auth="fetch", media="proxy"),  # noqa: E501
    E("OPTIONS", PROXY_PATH, "proxyOptions", "proxy", PROXY_SUMMARY, answer=None, errors=PROXY, auth="fetch", media="proxy"),  # noqa: E501
    E("GET", "/health", "health", "meta", "Liveness and database reachability", answer=a.HealthAnswer, auth="none"),  # noqa: E501
    E("GET", "/openapi.json", "openapi", "meta", "This document", answer=None, auth="none"),
]
# fmt: on
