"""The fields of an outbound app, described once.

An app's fields travel through every layer: the management API's bodies and answers
(``server.http.wire``), the stored configuration, the engine's
:class:`~outbound.oauth.ProviderConfig` (``server.tokens.providers``), the catalog templates apps
are made from (``catalog.template``), the URL checks (``server.connect.app_urls``) and the SDK's
request builders (``client._requests``). Each
of those reads its view of a field from :data:`APP_FIELDS` instead of listing the fields again.

Only the standard library is imported here: the SDK imports this module without the server's
dependencies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ANSWERED",
    "APP_FIELDS",
    "APP_LEVEL_TENANT",
    "CONFIG_FIELDS",
    "ENDPOINT_FIELDS",
    "ENGINE_FIELDS",
    "GRANT_TYPES",
    "KEPT_WHEN_OMITTED",
    "SDK_FIELDS",
    "STEERING_FIELDS",
    "TEMPLATED_URL_FIELDS",
    "AppField",
]

# What a field holds, which says how it is sent, stored and read back:
#   string   text ("" = not set)           url      a URL ("" = not set)
#   secret   write-only text               params   [{"key", "value"}] of a URL or token request
#   list     a list of strings             flag     a boolean with a default
#   choice   one of a few strings          seconds  a number of seconds, absent = default
Kind = Literal["string", "url", "secret", "params", "list", "flag", "choice", "seconds"]
# Where the server keeps it: a column of the app record (id, name), the encrypted client
# secret, the encrypted private key (a GitHub App's), or the stored configuration (keyed by
# wire name).
Place = Literal["record", "secret", "private_key", "config"]
# What an update that omits the field (absent or null) does: store the field's default, keep
# the stored value, or derive the value again (appType).
Omitted = Literal["default", "kept", "derived"]
# Which Python SDK sends it: an argument of the official ``descope`` SDK's create/update
# (ours takes the same), a keyword only ours takes, or neither.
PythonSdk = Literal["official", "extra", ""]


@dataclass(frozen=True)
class AppField:
    # camelCase: the name in request bodies and answers, and the key in the stored config
    wire: str
    kind: Kind
    place: Place = "config"
    # stored when the field is not given ("" for strings and choices, [] for lists); None:
    # nothing is stored (the server's default applies)
    default: Any = ""
    omitted: Omitted = "default"
    python_sdk: PythonSdk = "official"
    # the ProviderConfig attribute it sets ("" = none of its own; accessType and prompt go
    # into authorize_params)
    engine: str = ""
    # the TemplateSpec attribute an app made from a template takes it from ("" = none)
    template: str = ""
    # the template may write it with {value} placeholders, filled when the app is made
    templated: bool = False
    # a URL the server calls (or sends browsers to): checked by the network guard
    endpoint: bool = False
    # where the client secret (and refresh tokens) are sent depends on it, directly or through
    # the metadata it leads to: an update that moves that elsewhere needs the secret again
    # (``server.tokens.secret_origins``)
    steers_secret: bool = False

    @property
    def name(self) -> str:
        """The Python name: the request Struct's attribute and the SDK's argument."""
        return re.sub(r"[A-Z]", lambda match: "_" + match.group(0).lower(), self.wire)


# In the order of the answer (API.md's App object), which is also the request Struct's order.
APP_FIELDS: tuple[AppField, ...] = (
    AppField("id", "string", place="record"),
    AppField("name", "string", place="record", template="name"),
    AppField("description", "string", template="description"),
    AppField("logo", "url", template="logo"),
    AppField(
        "templateId", "string", omitted="kept", python_sdk="", template="id", steers_secret=True
    ),
    AppField("clientId", "string", engine="client_id"),
    AppField("clientSecret", "secret", place="secret", engine="client_secret"),
    AppField(
        "discoveryUrl",
        "url",
        engine="discovery_url",
        template="discovery_url",
        templated=True,
        endpoint=True,
        steers_secret=True,
    ),
    AppField(
        "authorizationUrl",
        "url",
        engine="authorization_url",
        template="authorization_url",
        templated=True,
        endpoint=True,
    ),
    AppField(
        "authorizationUrlParams",
        "params",
        default=[],
        engine="authorize_params",
        template="authorize_params",
        templated=True,
    ),
    AppField(
        "tokenUrl",
        "url",
        engine="token_url",
        template="token_url",
        templated=True,
        endpoint=True,
        steers_secret=True,
    ),
    AppField(
        "tokenUrlParams",
        "params",
        default=[],
        engine="token_params",
        template="token_params",
        templated=True,
    ),
    AppField(
        "revocationUrl",
        "url",
        engine="revocation_url",
        template="revocation_url",
        templated=True,
        endpoint=True,
        steers_secret=True,
    ),
    AppField(
        "defaultScopes", "list", default=[], engine="default_scopes", template="default_scopes"
    ),
    AppField("defaultRedirectUrl", "url"),
    AppField("callbackDomain", "string"),
    AppField("pkce", "flag", default=True, engine="pkce", template="pkce"),
    # accessType and prompt become authorize parameters (server.tokens.providers); a template's
    # access_type and prompt parameters become these fields (catalog.template).
    AppField("accessType", "choice", default="offline", template="authorize_params"),
    AppField("prompt", "list", default=[], template="authorize_params"),
    AppField("appType", "choice", omitted="derived", python_sdk=""),
    AppField("tenantId", "string", omitted="kept", python_sdk=""),
    AppField(
        "tokenEndpointAuthMethod",
        "choice",
        omitted="kept",
        python_sdk="",
        engine="token_endpoint_auth_method",
    ),
    AppField(
        "refreshMargin",
        "seconds",
        default=None,
        omitted="kept",
        python_sdk="",
        engine="refresh_margin",
    ),
    # Dynamic client registration (RFC 7591): dcrUrl is the registration endpoint.
    AppField(
        "useDcr",
        "flag",
        default=False,
        omitted="kept",
        python_sdk="extra",
        template="use_dcr",
        steers_secret=True,
    ),
    AppField(
        "dcrUrl",
        "url",
        omitted="kept",
        python_sdk="extra",
        engine="registration_url",
        endpoint=True,
        steers_secret=True,
    ),
    # RFC 8707 resource indicator (an MCP server's URL)
    AppField(
        "resource",
        "url",
        omitted="kept",
        python_sdk="extra",
        engine="resource",
        template="resource",
        templated=True,
        endpoint=True,
        steers_secret=True,
    ),
    # Where the provider's API is (the proxy calls apiBaseUrl + path with the connection's
    # token; an MCP app without one uses its resource).
    AppField(
        "apiBaseUrl",
        "url",
        omitted="kept",
        python_sdk="extra",
        template="api_base_url",
        templated=True,
        endpoint=True,
    ),
    # How the app's tokens are obtained (docs/grants.md): the authorization-code flow (the
    # default), RFC 6749 §4.4 client credentials, a GitHub App's installation tokens, or the
    # device authorization grant (RFC 8628). Kept when an update omits it: the official SDKs
    # cannot send it.
    AppField(
        "grantType",
        "choice",
        default="authorization_code",
        omitted="kept",
        python_sdk="extra",
        engine="grant_type",
    ),
    # A GitHub App (grantType github_app_installation): its App ID or Client ID, the ``iss``
    # of the JWTs signed with its private key (write-only, sealed like the client secret).
    AppField("githubAppId", "string", omitted="kept", python_sdk="extra"),
    AppField("privateKey", "secret", place="private_key", python_sdk="extra"),
    # RFC 8628: the device authorization endpoint a device-flow connect starts at (else the
    # discovery metadata's device_authorization_endpoint)
    AppField(
        "deviceAuthorizationUrl",
        "url",
        omitted="kept",
        python_sdk="",
        engine="device_authorization_url",
        endpoint=True,
        steers_secret=True,
    ),
)


# grantType's values; "" and absent mean authorization_code
GRANT_TYPES: tuple[str, ...] = (
    "authorization_code",
    "client_credentials",
    "github_app_installation",
    "device_code",
)
# The tenant id of an app's own token (not a tenant's): a client-credentials app fetched with
# this tenant id gets the one token the app holds for itself (docs/grants.md).
APP_LEVEL_TENANT = "outbound:app"

# -- the views the layers read ------------------------------------------------------------

# Every field an app answer has (the client secret and the private key are write-only).
ANSWERED: tuple[str, ...] = tuple(f.wire for f in APP_FIELDS if f.kind != "secret")
# The fields kept in the stored configuration, appType (derived last) included.
CONFIG_FIELDS: tuple[AppField, ...] = tuple(f for f in APP_FIELDS if f.place == "config")
# wire name -> Python name of the fields the official Python SDK cannot send: an update that
# omits them (absent or null) keeps the stored value, so an update through that SDK does not
# drop, say, the template whose quirks the app relies on. An empty string clears them, as it
# clears every other field.
KEPT_WHEN_OMITTED: dict[str, str] = {f.wire: f.name for f in APP_FIELDS if f.omitted == "kept"}
# (wire name, ProviderConfig attribute) of the text fields the engine takes as they are stored
ENGINE_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f.wire, f.engine) for f in CONFIG_FIELDS if f.engine and f.kind in ("string", "url", "choice")
)
# (TemplateSpec attribute, wire name) of the URLs a template may write with placeholders
TEMPLATED_URL_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f.template, f.wire) for f in APP_FIELDS if f.templated and f.kind == "url"
)
# wire names of every URL the server calls for an app
ENDPOINT_FIELDS: tuple[str, ...] = tuple(f.wire for f in APP_FIELDS if f.endpoint)
# wire names of every field that decides where the client secret and refresh tokens go
STEERING_FIELDS: tuple[str, ...] = tuple(f.wire for f in APP_FIELDS if f.steers_secret)
# the fields the SDK's create and update send, in answer order
SDK_FIELDS: tuple[AppField, ...] = tuple(f for f in APP_FIELDS if f.python_sdk)
