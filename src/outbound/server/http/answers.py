"""What the API answers: the shape of every response body, as msgspec structs.

The handlers build these answers as plain dicts (``wire.app_to_wire``, ``to_wire`` methods) —
the hot path stays free of struct conversions — and these structs describe them for the
OpenAPI document (``api/openapi.py``). They cannot drift unnoticed: the fuzz test checks every
answer of a live server against the document (tests/api/test_fuzz.py).

Request bodies are not here: the document describes them with the very structs the server
decodes them with (``wire.py``).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "AppAnswer",
    "AppIdsAnswer",
    "AppsAnswer",
    "AuthorizationServerMetadata",
    "ConnectionAnswer",
    "ConnectionsAnswer",
    "DeliveriesAnswer",
    "DeliveryAnswer",
    "DeviceConnectAnswer",
    "Empty",
    "ErrorAnswer",
    "FailuresAnswer",
    "HealthAnswer",
    "LicenseAnswer",
    "LinkAnswer",
    "OAuthErrorAnswer",
    "TemplateAnswer",
    "TemplatesAnswer",
    "TokenAnswer",
    "TokenExchangeAnswer",
    "WebhookSecretAnswer",
    "WebhooksAnswer",
]

# Times are strings of epoch seconds, as the Token object has them (API.md); "" when unset.
EpochText = str


class ErrorAnswer(msgspec.Struct, rename="camel"):
    """Every non-2xx answer (429 also carries ``Retry-After``, in seconds)."""

    error_code: str
    error_description: str
    error_message: str


class Empty(msgspec.Struct):
    """``{}``: done."""


class KeyValue(msgspec.Struct):
    key: str
    value: str


class App(msgspec.Struct, rename="camel"):
    """An outbound app as the API answers it. ``clientSecret`` is write-only: never answered."""

    id: str
    name: str
    has_client_secret: bool
    callback_url: str
    description: str = ""
    logo: str = ""
    template_id: str = ""
    client_id: str = ""
    discovery_url: str = ""
    authorization_url: str = ""
    authorization_url_params: list[KeyValue] = []
    token_url: str = ""
    token_url_params: list[KeyValue] = []
    revocation_url: str = ""
    default_scopes: list[str] = []
    default_redirect_url: str = ""
    callback_domain: str = ""
    pkce: bool = True
    access_type: Literal["offline", "online"] = "offline"
    prompt: list[str] = []
    app_type: Literal["oauth", "apikey"] = "oauth"
    tenant_id: str = ""
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none", ""] = (
        ""
    )
    refresh_margin: int | None = None
    grant_type: Literal[
        "authorization_code", "client_credentials", "github_app_installation", "device_code"
    ] = "authorization_code"
    github_app_id: str = ""
    # a GitHub App's (grantType github_app_installation) private key is write-only too
    has_private_key: bool | None = None


class InstallationAnswer(msgspec.Struct, rename="camel"):
    """The GitHub App installation stored as the tenant's connection."""

    installation_id: str
    # the organisation or user it is installed on
    account: str


class AppAnswer(msgspec.Struct):
    app: App


class AppsAnswer(msgspec.Struct):
    apps: list[App]


class Token(msgspec.Struct, rename="camel"):
    """A usable token. ``token`` repeats ``accessToken`` (the documented Python usage reads
    ``result["token"]["token"]``); ``refreshToken`` only with ``options.withRefreshToken``."""

    id: str
    app_id: str
    user_id: str
    tenant_id: str
    token_sub: str
    access_token: str
    token: str
    access_token_type: str
    access_token_expiry: EpochText
    has_refresh_token: bool
    last_refresh_time: EpochText
    last_refresh_error: str
    scopes: list[str]
    granted_by: str
    external_identifier: str
    refresh_token: str | None = None
    # provider fields the app's template keeps beside the token (Slack's team, …)
    extra: dict[str, Any] | None = None


class TokenAnswer(msgspec.Struct):
    token: Token


class AppIdsAnswer(msgspec.Struct, rename="camel"):
    app_ids: list[str]


class Failure(msgspec.Struct, rename="camel"):
    app_id: str
    error_code: str
    reason: str
    user_id: str | None = None
    tenant_id: str | None = None


class FailuresAnswer(msgspec.Struct):
    """Batch upload: a non-empty list means nothing was stored."""

    failures: list[Failure]


class TokenExchangeAnswer(msgspec.Struct):
    """RFC 8693 §2.2.1: the user's provider access token as the issued token."""

    access_token: str
    issued_token_type: Literal["urn:ietf:params:oauth:token-type:access_token"]
    token_type: Literal["Bearer", "N_A"]
    expires_in: int | msgspec.UnsetType = msgspec.UNSET
    scope: str | msgspec.UnsetType = msgspec.UNSET


class OAuthErrorAnswer(msgspec.Struct):
    """RFC 6749 §5.2 / RFC 8693 §2.2.2. ``interaction_required``: ``error_uri`` is a
    single-use connect link for the user (when one could be made)."""

    error: Literal[
        "invalid_request",
        "unsupported_grant_type",
        "invalid_grant",
        "invalid_target",
        "invalid_scope",
        "interaction_required",
        "temporarily_unavailable",
    ]
    error_description: str
    error_uri: str | msgspec.UnsetType = msgspec.UNSET


class AuthorizationServerMetadata(msgspec.Struct):
    """RFC 8414 metadata of the token-exchange endpoint."""

    issuer: str
    token_endpoint: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    response_types_supported: list[str]


class LinkAnswer(msgspec.Struct, omit_defaults=True):
    """A single-use connect link (10 minutes) for the user's browser to open; with
    ``options.flow = "device"``, the device flow's answer (RFC 8628 §3.2's own names) and the
    ``id`` its status is read by (``url``: the verification URI to open)."""

    url: str
    id: str | None = None
    user_code: str | None = None
    verification_uri: str | None = None
    verification_uri_complete: str | None = None
    expires_in: int | None = None
    interval: int | None = None


class DeviceConnect(msgspec.Struct, rename="camel"):
    id: str
    app_id: str
    user_id: str
    tenant_id: str
    status: Literal["pending", "connected", "failed"]
    # why it failed: expired_token, access_denied, the provider's other error code, app_deleted
    error: str
    # the connection (token id) once connected, else ""
    connection_id: str
    interval: int
    polls: int
    expires_time: EpochText
    created_time: EpochText
    updated_time: EpochText


class DeviceConnectAnswer(msgspec.Struct):
    connect: DeviceConnect


class TemplateInput(msgspec.Struct):
    name: str
    label: str
    description: str
    required: bool
    # where a create/bytemplate request carries it: a body field or a ``values`` entry
    in_: Literal["body", "values"] = msgspec.field(name="in")
    secret: bool | None = None
    kind: str | None = None
    example: str | None = None
    default: str | None = None
    choices: list[str] | None = None


class TemplateWhoami(msgspec.Struct):
    """A request naming the connected account: path relative to apiBaseUrl (or an https
    URL), and the answer's fields holding the account's name and id."""

    method: str
    path: str
    account: str
    id: str | None = None
    body: str | None = None
    headers: dict[str, str] | None = None


class Template(msgspec.Struct, rename="camel"):
    id: str
    name: str
    description: str
    logo: str
    homepage: str
    docs: str
    console: str
    default_scopes: list[str]
    scope_separator: str
    pkce: bool
    token_endpoint_auth_method: str
    discovery_url: str
    authorization_url: str
    token_url: str
    refresh_url: str
    revocation_url: str
    authorization_url_params: list[KeyValue]
    token_url_params: list[KeyValue]
    refresh_tokens: bool
    rotates_refresh_token: bool
    refresh_margin: int | None
    extra_token_fields: list[str]
    extra_callback_params: list[str]
    inputs: list[TemplateInput]
    notes: str
    categories: list[str] = []
    # The provider's REST API base ("" when it has none or it comes with the token).
    api_base_url: str = ""
    whoami: TemplateWhoami | None = None
    # fact (endpoints, scopes, pkce, refresh, api, whoami) -> the documentation page
    sources: dict[str, str] = {}


class TemplatesAnswer(msgspec.Struct):
    templates: list[Template]


class TemplateAnswer(msgspec.Struct):
    template: Template


class Connection(msgspec.Struct, rename="camel"):
    """A stored token's non-secret part and its health."""

    id: str
    app_id: str
    user_id: str
    tenant_id: str
    status: Literal["active", "refresh_failing", "reconnect_required"]
    scopes: list[str]
    access_token_expiry: EpochText
    last_refresh_time: EpochText
    last_refresh_error: str
    failing_since: EpochText
    failure_count: int
    created_time: EpochText
    # the app's own small JSON object (never a secret)
    metadata: dict[str, Any]


class ConnectionAnswer(msgspec.Struct):
    connection: Connection


class Verification(msgspec.Struct, rename="camel"):
    """The provider's answer to the template's whoami request, made with the connection's
    token (never shown)."""

    ok: bool
    account: str | None
    account_id: str | None
    # the provider's HTTP status, when it answered
    status: int | None
    error: str | None
    # where the request went, without its query
    url: str | None


class VerificationAnswer(msgspec.Struct):
    verification: Verification


class ConnectionsAnswer(msgspec.Struct, rename="camel"):
    connections: list[Connection]
    # "" on the last page; pass it back as ``cursor`` for the next one
    next_cursor: str


class Webhook(msgspec.Struct, rename="camel"):
    id: str
    url: str
    events: list[str]
    created_time: EpochText
    updated_time: EpochText
    # while the previous secret still signs alongside the current one
    previous_secret_until: EpochText


class WebhookSecretAnswer(msgspec.Struct):
    """The signing secret (``whsec_…``) is shown this once."""

    webhook: Webhook
    secret: str


class WebhooksAnswer(msgspec.Struct):
    webhooks: list[Webhook]


class Attempt(msgspec.Struct, rename="camel"):
    attempt: int
    time: EpochText
    duration_ms: int
    status_code: int
    error: str


class Delivery(msgspec.Struct, rename="camel"):
    id: str
    webhook_id: str
    event_id: str
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempt_count: int
    created_time: EpochText
    next_attempt_time: EpochText
    delivered_time: EpochText
    payload: dict[str, Any]
    attempts: list[Attempt] | None = None


class DeliveriesAnswer(msgspec.Struct, rename="camel"):
    deliveries: list[Delivery]
    next_cursor: str


class DeliveryAnswer(msgspec.Struct):
    delivery: Delivery


class HealthAnswer(msgspec.Struct):
    status: Literal["ok"]
    version: str


class LicenseAnswer(msgspec.Struct):
    """The license handshake the official Python SDK makes at start-up."""

    edition: str
    version: str


class AuditEvent(msgspec.Struct, rename="camel"):
    """One audited action (never a secret)."""

    seq: int  # its place in the project's hash chain
    time: str  # ISO 8601, UTC
    time_ms: int
    project_id: str
    actor: str  # key:<key id>, session:<sub> or system
    action: str
    app_id: str
    user_id: str
    tenant_id: str
    token_id: str
    outcome: Literal["ok", "error"]
    error_code: str
    client_address: str
    request_id: str
    detail: str


class AuditAnswer(msgspec.Struct, rename="camel"):
    events: list[AuditEvent]
    # "" on the last page; pass it back as ``cursor`` for the next one
    next_cursor: str


class ClientMetadataDocument(msgspec.Struct, omit_defaults=True):
    """An app's Client ID Metadata Document (OAuth client metadata, RFC 7591 §2): its URL is
    the client id at authorization servers that take such documents."""

    client_id: str
    client_name: str
    redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    token_endpoint_auth_method: str
    scope: str = ""
    client_uri: str = ""
    logo_uri: str = ""
