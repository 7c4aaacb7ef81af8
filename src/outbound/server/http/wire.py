"""Request bodies (decoded and validated by msgspec) and response shapes, as API.md has them.

Clients send explicit ``null`` for absent optional fields, so every optional field accepts it;
unknown fields are ignored. Sizes are capped so a hostile body cannot bloat the store.

What the server answers must be accepted back unchanged (docs/api.md, "Round trips"): the
official Node and Go SDKs send a loaded app back whole, and a fetched token is what a user
uploads elsewhere. So an empty string is "not set" wherever the server answers one (an app
without a tenant answers ``"tenantId": ""``), expiries are accepted as the strings fetch
answers, and output-only fields (``callbackUrl``, ``hasClientSecret``, a token's ``id``…) are
unknown fields here, ignored like any other.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

from ...app_fields import ANSWERED, CONFIG_FIELDS, KEPT_WHEN_OMITTED, AppField
from ...storage import AppRecord, TokenRecord
from ...storage.connections import MAX_METADATA, dump_metadata
from .errors import ApiError

# Ids come from our users' systems (emails, UUIDs, slugs): any printable text, bounded — but
# none of the characters that make an id display as another one, or break a log line: C0 and
# C1 controls, and Unicode's format characters (Cf: zero-width spaces and joiners, soft hyphen,
# BOM, bidi marks, overrides and isolates, tag characters) and line and paragraph separators
# (Zl, Zp). The astral ones are written as characters: ECMA-262 (JSON Schema's regex dialect)
# has no \U escape. An empty id is "not set": the server answers "" for an absent tenantId or
# templateId, and what it answers must be accepted back.
_NOT_IN_IDS = (
    r"\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    r"\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
_PRINTABLE_CHAR = f"[^{_NOT_IN_IDS}]"
# Python's `$` also matches before a final "\n", so "alice\n" would pass `^…$`: `$(?!\n)` is
# the end of the string in Python and in ECMA-262 alike. (Patterns used only in Python end
# with `\Z`.)
_END = r"$(?!\n)"
Id = Annotated[str, Meta(max_length=256, pattern=f"^{_PRINTABLE_CHAR}*{_END}")]
# a required id (a session token's sub): at least one printable character
PRINTABLE_ID = re.compile(rf"^{_PRINTABLE_CHAR}+\Z")
# App and tenant ids are created with this shape: they travel in URL paths and file names.
# (Ids stored before the rule still load: it is checked where an id is created.)
NEW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
Name = Annotated[str, Meta(min_length=1, max_length=256, pattern=rf"^[^\x00-\x1f\x7f]+{_END}")]
Text = Annotated[str, Meta(max_length=4096)]
Url = Annotated[str, Meta(max_length=2048, pattern=rf"^(https?://\S+)?{_END}")]
# Redirect targets may be native apps' custom schemes (com.example.app://done).
AnyUrl = Annotated[str, Meta(max_length=2048, pattern=rf"^([A-Za-z][A-Za-z0-9+.-]*://\S+)?{_END}")]
# Scopes: no spaces (the separator) and nothing an id may not hold.
_SCOPE = f"^[^\\x20{_NOT_IN_IDS}]+{_END}"
Scope = Annotated[str, Meta(min_length=1, max_length=512, pattern=_SCOPE)]
Scopes = Annotated[list[Scope], Meta(max_length=256)]
# A connect request's scopes end up in a stored session and an authorization URL: fewer, shorter.
ConnectScopes = Annotated[
    list[Annotated[str, Meta(min_length=1, max_length=256, pattern=_SCOPE)]],
    Meta(max_length=64),
]
# Real provider tokens (JWTs with many claims) reach a few KB; 16 KB leaves room. "" is "not
# set" (a token without an access token is answered with "accessToken": "").
TokenValue = Annotated[str, Meta(max_length=16384)]
# Epoch seconds: fetch answers them as a string (API.md), upload takes either form.
MAX_EPOCH = 2**40
Epoch = (
    Annotated[int, Meta(ge=0, le=MAX_EPOCH)]
    | Annotated[str, Meta(pattern=rf"^[0-9]{{0,13}}{_END}")]
)
ClientSecretValue = Annotated[str, Meta(max_length=4096)]
# A connection's metadata: a JSON object (never a secret), at most MAX_METADATA bytes encoded.
Metadata = Annotated[
    dict[str, Any],
    Meta(
        description=f"a JSON object of at most {MAX_METADATA} bytes (compact UTF-8 JSON);"
        " shown in lists and never treated as a secret: put no secrets in it"
    ),
]


def check_metadata(metadata: dict[str, Any] | None) -> None:
    """A ``__post_init__`` check: the metadata fits (msgspec turns the ValueError into a 400
    naming the field)."""
    size = 0 if metadata is None else len(dump_metadata(metadata).encode())
    if size > MAX_METADATA:
        raise ValueError(
            f"$.metadata is {size} bytes as compact JSON; at most {MAX_METADATA} are kept"
        )


InstallationIdText = Annotated[str, Meta(pattern=rf"^[1-9][0-9]{{0,18}}{_END}")]
# A PEM private key (a 4096-bit RSA key is about 3.3 KB)
PrivateKeyValue = Annotated[str, Meta(max_length=16384)]


class Input(msgspec.Struct):
    """A request body whose empty strings mean "not set": each becomes ``None``, so the
    handlers see one form of absence (null, missing or "")."""

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if getattr(self, name) == "":
                setattr(self, name, None)


class URLParam(msgspec.Struct, omit_defaults=True):
    # the official Python SDK sends {"name","value"}, the others {"key","value"}
    key: Annotated[str, Meta(max_length=256)] | None = None
    name: Annotated[str, Meta(max_length=256)] | None = None
    value: Annotated[str, Meta(max_length=2048)] | None = None


URLParams = Annotated[list[URLParam], Meta(max_length=64)]


class AppFields(msgspec.Struct, rename="camel"):
    id: Id | None = None
    name: Name | None = None
    description: Text | None = None
    logo: AnyUrl | None = None
    template_id: Id | None = None
    client_id: Annotated[str, Meta(max_length=1024)] | None = None
    client_secret: ClientSecretValue | None = None
    discovery_url: Url | None = None
    authorization_url: Url | None = None
    authorization_url_params: URLParams | None = None
    token_url: Url | None = None
    token_url_params: URLParams | None = None
    revocation_url: Url | None = None
    default_scopes: Scopes | None = None
    default_redirect_url: AnyUrl | None = None
    callback_domain: Annotated[str, Meta(max_length=512)] | None = None
    pkce: bool | None = None
    access_type: Literal["offline", "online", ""] | None = None
    prompt: (
        Annotated[list[Literal["none", "login", "consent", "select_account"]], Meta(max_length=4)]
        | None
    ) = None
    app_type: Literal["oauth", "apikey", ""] | None = None
    tenant_id: Id | None = None
    token_endpoint_auth_method: (
        Literal["client_secret_basic", "client_secret_post", "none", ""] | None
    ) = None
    # seconds before expiry at which this app's tokens are refreshed (default: the server's)
    refresh_margin: Annotated[int, Meta(ge=0, le=86400 * 30)] | None = None
    # Dynamic client registration (RFC 7591), as the official SDKs send it: register a client
    # at the first connect instead of naming one; ``dcrUrl`` is the registration endpoint
    # (default: the authorization server's ``registration_endpoint``).
    use_dcr: bool | None = None
    dcr_url: Url | None = None
    # outbound's own: the protected resource (an MCP server's URL) its tokens are for; its
    # RFC 9728 metadata names the authorization server, and every request carries it (RFC 8707).
    resource: Url | None = None
    # outbound's own: the provider's API (the proxy's target, docs/proxy.md)
    api_base_url: Url | None = None
    # how tokens are obtained (docs/grants.md); a GitHub App's id and private key (PEM)
    grant_type: (
        Literal[
            "authorization_code", "client_credentials", "github_app_installation", "device_code", ""
        ]
        | None
    ) = None
    github_app_id: (
        Annotated[str, Meta(max_length=256, pattern=rf"^[A-Za-z0-9._-]*{_END}")] | None
    ) = None
    private_key: PrivateKeyValue | None = None
    # RFC 8628: the device authorization endpoint a device-flow connect starts at (default:
    # the discovery metadata's device_authorization_endpoint)
    device_authorization_url: Url | None = None


class AppUpdate(msgspec.Struct):
    app: AppFields | None = None


class AppDelete(Input):
    id: Id | None = None


class CreateByTemplate(Input, rename="camel"):
    template_id: Id | None = None
    id: Id | None = None
    name: Name | None = None
    client_id: Annotated[str, Meta(max_length=1024)] | None = None
    client_secret: ClientSecretValue | None = None
    tenant_id: Id | None = None
    overrides: AppFields | None = None
    # per-instance values the template needs (subdomain, tenant, domain…)
    values: (
        Annotated[dict[str, Annotated[str, Meta(max_length=512)]], Meta(max_length=16)] | None
    ) = None


class ConnectOptions(Input, rename="camel"):
    redirect_url: AnyUrl | None = None
    scopes: ConnectScopes | None = None
    external_identifier: Id | None = None
    # the connection's metadata once connected (absent: it keeps what it holds)
    metadata: Metadata | None = None
    # "device": RFC 8628's device flow (the user enters a code at the provider) instead of a
    # link for the user's browser ("redirect", the default)
    flow: Literal["redirect", "device", ""] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_metadata(self.metadata)


class Connect(Input, rename="camel"):
    app_id: Id | None = None
    user_id: Id | None = None
    tenant_id: Id | None = None
    tenant_level: bool | None = None
    options: ConnectOptions | None = None


class FetchOptions(msgspec.Struct, rename="camel"):
    with_refresh_token: bool | None = None
    force_refresh: bool | None = None


# Not an Input: fetch is the hot path, so its handler reads "" as absent itself (`or`).
class FetchToken(msgspec.Struct, rename="camel"):
    app_id: Id | None = None
    user_id: Id | None = None
    tenant_id: Id | None = None
    scopes: Scopes | None = None
    options: FetchOptions | None = None
    external_identifier: Id | None = None


class ApiKeyUpload(Input, rename="camel"):
    app_id: Id | None = None
    user_id: Id | None = None
    tenant_id: Id | None = None
    api_key: TokenValue | None = None
    metadata: Metadata | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_metadata(self.metadata)


class InstallationUpload(Input, rename="camel"):
    """A GitHub App installation for a tenant (docs/grants.md)."""

    app_id: Id | None = None
    tenant_id: Id | None = None
    # GitHub's installation id (a number; sent as a number or a string)
    installation_id: Annotated[int, Meta(ge=1, le=2**63 - 1)] | InstallationIdText | None = None


class TokenUpload(Input, rename="camel"):
    app_id: Id | None = None
    user_id: Id | None = None
    tenant_id: Id | None = None
    refresh_token: TokenValue | None = None
    access_token: TokenValue | None = None
    access_token_expiry: Epoch | None = None
    access_token_type: Annotated[str, Meta(max_length=64)] | None = None
    scopes: Scopes | None = None
    external_identifier: Id | None = None
    id_token: TokenValue | None = None
    granted_by: Annotated[str, Meta(max_length=256)] | None = None
    verify_refresh: bool | None = None
    # the connection's metadata (absent: a connection stored before keeps what it holds)
    metadata: Metadata | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_metadata(self.metadata)
        if isinstance(self.access_token_expiry, str):
            self.access_token_expiry = int(self.access_token_expiry)
            if self.access_token_expiry > MAX_EPOCH:
                raise ValueError(f"$.accessTokenExpiry must be at most {MAX_EPOCH}")

    @property
    def expiry(self) -> int:
        """``accessTokenExpiry`` as epoch seconds; 0 when not given."""
        return int(self.access_token_expiry or 0)


class ConnectionMetadata(msgspec.Struct):
    """``POST /v1/mgmt/outbound/connections/{id}/metadata``: the new metadata, whole."""

    metadata: Metadata | None = None

    def __post_init__(self) -> None:
        check_metadata(self.metadata)


class BatchUpload(msgspec.Struct):
    tokens: Annotated[list[TokenUpload], Meta(max_length=1000)] | None = None


S = TypeVar("S", bound=msgspec.Struct)

_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_MISSING = re.compile(r"Object missing required field `(\w+)`")


def _field_path(message: str) -> str:
    # msgspec: "Expected `str`, got `int` - at `$.tokens[0].appId`"
    if " - at `$." in message:
        return message.rsplit(" - at `$.", 1)[1].rstrip("`")
    return ""


# No request needs more than a few levels; msgspec itself recurses (into unknown fields too)
# until Python's recursion limit, and that is an internal error, not an answer.
MAX_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text ``body`` nests arrays and objects deeper than ``limit`` (or its
    brackets do not pair up). Linear passes in C: cheap enough for every request."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if shorter == brackets:
            return True  # unpaired: not JSON anyway
        brackets = shorter
    return bool(brackets)


def decode(body: bytes, struct: type[S]) -> S:
    """Decode and validate a request body; a bad one becomes a 4xx naming the field."""
    decoder = _decoders.get(struct)
    if decoder is None:
        decoder = _decoders[struct] = msgspec.json.Decoder(struct)
    if not body.strip():
        raise ApiError("E011001", "the request body is empty; send a JSON object")
    if too_deep(body):
        raise ApiError(
            "E011001",
            f"the request body nests arrays or objects deeper than {MAX_DEPTH} levels"
            " (or is not valid JSON)",
        )
    try:
        result: S = decoder.decode(body)
        return result
    except RecursionError:
        raise ApiError(
            "E011001", f"the request body nests deeper than {MAX_DEPTH} levels"
        ) from None
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = _field_path(message)
        if field == "" and message.startswith("Expected `object`"):
            raise ApiError("E011001", "the request body must be a JSON object") from None
        text = message.split(" - at ")[0]
        if text.startswith("$."):
            # a __post_init__ check, naming its member: "$.accessTokenExpiry must be …"
            member, text = text[2:].split(" ", 1)
            field = f"{field}.{member}" if field else member
        raise ApiError("E011003", f"invalid field {field!r}: {text}") from None
    except msgspec.DecodeError as exc:
        raise ApiError("E011001", f"the request body is not valid JSON: {exc}") from None


def require_new_id(value: str, field: str) -> str:
    """``value`` when it may name a new app or tenant, else a 400 naming ``field``."""
    if not NEW_ID.match(value):
        raise ApiError(
            "E011003",
            f"invalid field {field!r}: an id starts with a letter or digit and has at most 64"
            " letters, digits, '.', '_' or '-'",
        )
    return value


def checked_id(value: str | None, name: str, where: str = "query parameter") -> str | None:
    """An id taken from a URL (query or path): None when absent or empty, else ``value`` when
    it passes the ``Id`` rule, else a 400 naming it."""
    if value is None or value == "":
        return None
    try:
        checked: str = msgspec.convert(value, Id)
    except msgspec.ValidationError:
        raise ApiError(
            "E011003",
            f"invalid {where} {name!r}: at most 256 characters, none of them control, format"
            " or line-separator characters",
        ) from None
    return checked


def require(value: Any, field: str) -> Any:
    if value is None or value == "" or value == []:
        raise ApiError("E011002", f"missing argument {field!r}")
    return value


# -- responses ---------------------------------------------------------------------------

# The App answer's fields, in order.
_APP_FIELDS = ANSWERED
# Stored beside the wire fields (never answered): appType was derived, not given.
_DERIVED = "appTypeDerived"


def derived_app_type(config: dict[str, Any]) -> str:
    """The official Python SDK cannot send appType: an app with nowhere to send users holds
    API keys."""
    oauth = ("authorizationUrl", "tokenUrl", "discoveryUrl", "resource", "useDcr")
    if config.get("grantType") == "github_app_installation":
        return "oauth"  # a GitHub App's installation tokens need no URL of the app's own
    return "oauth" if any(config.get(field) for field in oauth) else "apikey"


def _type_was_derived(stored: dict[str, Any]) -> bool:
    # Apps stored before the flag existed: derived when it agrees with the derivation.
    return bool(stored.get(_DERIVED, stored.get("appType") == derived_app_type(stored)))


def app_config_from_fields(
    fields: AppFields, stored: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The stored (non-secret) configuration of an app, canonical wire names and forms.

    ``stored`` is the app's configuration before an update: fields in ``KEPT_WHEN_OMITTED``
    that the update omits keep their value, and a derived ``appType`` stays read-only (sent
    back unchanged it is derived again from the new configuration).
    """
    config: dict[str, Any] = {}
    for field in CONFIG_FIELDS:
        if field.omitted != "derived":
            _store(config, field, getattr(fields, field.name))
    app_type = fields.app_type
    if stored is not None:
        for wire_name, attribute in KEPT_WHEN_OMITTED.items():
            if getattr(fields, attribute) is None and wire_name in stored:
                config[wire_name] = stored[wire_name]
        if _type_was_derived(stored):
            if app_type == stored.get("appType"):
                app_type = None  # the derived value sent back: read-only
        elif app_type is None:
            app_type = stored.get("appType")
    if "#" in config["resource"]:
        raise ApiError("E011003", "invalid field 'resource': a resource indicator has no fragment")
    if config["useDcr"] and not (
        config["resource"]
        or config["discoveryUrl"]
        or (config["authorizationUrl"] and config["tokenUrl"])
    ):
        raise ApiError(
            "E011002",
            "useDcr needs a way to find the authorization server: set 'resource' (the MCP"
            " server URL), 'discoveryUrl', or 'authorizationUrl' and 'tokenUrl'",
        )
    config["appType"] = app_type or derived_app_type(config)
    config[_DERIVED] = not app_type
    return config


def _store(config: dict[str, Any], field: AppField, value: Any) -> None:
    """Put ``value`` (given or None) of ``field`` into ``config`` in its stored form."""
    if field.kind == "params":
        config[field.wire] = canonical_params(value)
    elif field.kind == "list":
        config[field.wire] = list(value or [])
    elif field.kind == "flag":
        config[field.wire] = field.default if value is None else bool(value)
    elif field.kind == "seconds":
        if value is not None:
            config[field.wire] = value
    else:
        config[field.wire] = value or field.default


def canonical_params(params: list[URLParam] | None) -> list[dict[str, str]]:
    result = []
    for index, param in enumerate(params or []):
        key = param.key or param.name
        if not key:
            raise ApiError("E011002", f"URL param #{index} needs a 'key' (or 'name')")
        result.append({"key": key, "value": param.value or ""})
    return result


def app_to_wire(app: AppRecord, callback_url: str) -> dict[str, Any]:
    wire: dict[str, Any] = {"id": app.id, "name": app.name}
    for stored in CONFIG_FIELDS:
        if stored.wire in app.config:
            wire[stored.wire] = app.config[stored.wire]
    # Apps stored before these fields existed read as apps without them.
    for field, default in (("useDcr", False), ("dcrUrl", ""), ("resource", "")):
        wire.setdefault(field, default)
    wire.setdefault("grantType", "authorization_code")
    wire["hasClientSecret"] = app.client_secret is not None
    if app.config.get("grantType") == "github_app_installation":
        wire["hasPrivateKey"] = app.private_key is not None
    wire["callbackUrl"] = callback_url
    return wire


def token_to_wire(token: TokenRecord, with_refresh_token: bool) -> dict[str, Any]:
    access = token.access_token.reveal() if token.access_token else ""
    wire: dict[str, Any] = {
        "id": token.id,
        "appId": token.app_id,
        "userId": token.user_id,
        "tenantId": token.tenant_id,
        "tokenSub": token.token_sub,
        "accessToken": access,
        "token": access,
        "accessTokenType": token.access_token_type,
        "accessTokenExpiry": str(token.access_token_expiry),
        "hasRefreshToken": token.refresh_token is not None,
        "lastRefreshTime": str(token.last_refresh_time),
        "lastRefreshError": token.last_refresh_error,
        "scopes": token.scopes,
        "grantedBy": token.granted_by,
        "externalIdentifier": token.external_identifier,
    }
    if token.extra:
        wire["extra"] = token.extra
    if with_refresh_token and token.refresh_token is not None:
        wire["refreshToken"] = token.refresh_token.reveal()
    return wire
