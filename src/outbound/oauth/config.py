"""How to talk to one provider: everything the OAuth engine needs, merged from a catalog
template (quirks, endpoints) and the app's own settings (client credentials, overrides).

This is the contract between the catalog (which produces these from data files), the
server (which builds them from stored apps) and the engine (which only reads them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..secret import Secret

__all__ = ["ClientAuthMethod", "ProviderConfig", "RequestFormat", "TokenKind"]

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "none", ""]
# How a POST to a token or revocation endpoint is encoded: RFC 6749's form, or JSON.
RequestFormat = Literal["form", "json"]
TokenKind = Literal["refresh_token", "access_token"]


@dataclass(frozen=True)
class ProviderConfig:
    client_id: str
    client_secret: Secret | None = None
    # The origins the client secret may be sent to (``origins.check_secret_origin``): those
    # it was entered for. None: not recorded, not checked.
    secret_origins: tuple[str, ...] | None = None

    # Endpoints: explicit, or filled from discovery (``issuer`` in the metadata must match).
    discovery_url: str = ""
    issuer: str = ""
    authorization_url: str = ""
    token_url: str = ""
    # Figma refreshes at a different URL than it exchanges codes.
    refresh_url: str = ""
    revocation_url: str = ""
    # RFC 7591 registration endpoint (the app's ``dcrUrl``, else from the metadata).
    registration_url: str = ""
    # RFC 8628 device authorization endpoint (the app's ``deviceAuthorizationUrl``, else the
    # metadata's ``device_authorization_endpoint``): where a device-flow connect starts.
    device_authorization_url: str = ""
    # RFC 8707 resource indicator (an MCP server's URL): sent on the authorization, token and
    # refresh requests so the token is bound to that resource.
    resource: str = ""

    # "" = from the template, else from the metadata, else client_secret_basic.
    token_endpoint_auth_method: ClientAuthMethod = ""
    default_scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    pkce: bool = True
    # Extra query parameters of the authorize URL (access_type, prompt, audience,
    # token_access_type, duration …) and extra form fields of every token request.
    authorize_params: tuple[tuple[str, str], ...] = ()
    token_params: tuple[tuple[str, str], ...] = ()
    # Microsoft wants ``scope`` again on refresh.
    scope_on_refresh: bool = False

    # How tokens are obtained: "authorization_code" (connect, then refresh), or a grant that
    # needs no user: "client_credentials" (RFC 6749 §4.4), "github_app_installation".
    grant_type: str = "authorization_code"

    # Seconds before expiry at which a token is refreshed; None = the server's default.
    refresh_margin: int | None = None
    # Exact Online refuses refreshes earlier than this many seconds before expiry.
    refresh_window: int | None = None

    # -- response quirks ------------------------------------------------------------
    # "form" (RFC 6749) or "json" (Notion) request bodies at the token endpoint.
    token_request_format: RequestFormat = "form"  # noqa: S105
    # Extra HTTP headers of every token, refresh and revocation request (Notion-Version).
    request_headers: tuple[tuple[str, str], ...] = ()

    # -- revocation quirks (RFC 7009 is the default) -------------------------------------
    # "form" (RFC 7009 §2.1) or "json" (Notion, Intuit) revocation request bodies; the client
    # authenticates as at the token endpoint.
    revocation_request_format: RequestFormat = "form"
    # Send RFC 7009's optional ``token_type_hint`` (providers with a fixed body schema
    # document only ``token``).
    revocation_token_type_hint: bool = True
    # Which tokens the revocation endpoint takes (TikTok and Notion: the access token only).
    revocation_token_types: tuple[TokenKind, ...] = ("refresh_token", "access_token")
    # Dotted path where the token fields sit in the response ("authed_user", "data").
    token_response_path: str = ""
    # A boolean field that is false on failure despite HTTP 200 (Slack "ok").
    success_field: str = ""
    # Token-response fields kept and returned with the token (dotted paths: "instance_url",
    # "team.id"), and callback query parameters likewise ("realmId").
    extra_token_fields: tuple[str, ...] = ()
    extra_callback_params: tuple[str, ...] = ()
    # Informational: the provider issues a new refresh token on every refresh.
    rotates_refresh_token: bool = False
    # Dotted path in the token response to the provider's user id, used for ``subject``
    # when there is no id token ("authed_user.id", "account_id").
    subject_field: str = ""
    # RFC 9207: the provider promises ``iss`` in every authorization response, so a callback
    # without it is refused (set by discovery from
    # ``authorization_response_iss_parameter_supported``).
    require_callback_issuer: bool = False
    # Named hooks for what data cannot say (see ``outbound.oauth.hooks``).
    hooks: tuple[str, ...] = field(default=())
