"""The shape of a provider data file (``providers/<id>.toml``), checked when it is loaded.

Field names are those of :class:`outbound.oauth.config.ProviderConfig` wherever the engine
reads them, so a template says exactly what the engine will do. Unknown keys are errors:
a misspelt quirk must never be silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

import msgspec
from msgspec import Meta

__all__ = [
    "CATEGORIES",
    "FACTS",
    "VALUE_KINDS",
    "SourcesSpec",
    "TemplateSpec",
    "ValueSpec",
    "WhoamiSpec",
]

# https URLs, with ``{value}`` placeholders where the template allows them; a URL may start
# with a placeholder only when that value is itself an https URL (checked by the loader).
URL_PATTERN = r"(?:https://|\{[a-z_]+\})(?:[^\s{}]|\{[a-z_]+\})+"
HttpsUrl = Annotated[str, Meta(pattern=f"^{URL_PATTERN}$")]
OptionalUrl = Annotated[str, Meta(pattern=f"^({URL_PATTERN})?$")]
# A resource may also be one ``url`` value as a whole (the generic MCP template).
ResourceUrl = Annotated[str, Meta(pattern=f"^({URL_PATTERN}|\\{{[a-z_]+\\}})?$")]
Identifier = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Scope = Annotated[str, Meta(min_length=1, max_length=512, pattern=r"^[^\x00-\x20\x7f]+$")]
ParamName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# An HTTP header name (RFC 9110 token).
HeaderName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")]
FieldPath = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]

# What a per-instance value may look like. Values are put into URLs, so each kind is as
# narrow as the providers allow: no value can add a path, a query or another host.
VALUE_KINDS: dict[str, tuple[str, re.Pattern[str]]] = {
    "label": (
        "one DNS label (letters, digits, hyphens)",
        re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"),
    ),
    "host": (
        "a host name such as example.okta.com, maybe with a port (no scheme or path)",
        re.compile(
            r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
            r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+(?::[0-9]{1,5})?$"
        ),
    ),
    "segment": (
        "one URL path segment (letters, digits, '.', '_', '-')",
        re.compile(r"^[A-Za-z0-9._-]{1,128}$"),
    ),
    "url": (
        "an https URL without query or fragment",
        re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@-]*)*$"),
    ),
}


# What a provider is for; ``outbound templates list --grep`` searches them.
Category = Literal[
    "accounting",
    "ai",
    "analytics",
    "cloud",
    "communication",
    "crm",
    "design",
    "dev-tools",
    "documents",
    "e-commerce",
    "education",
    "finance",
    "forms",
    "health",
    "hr",
    "identity",
    "marketing",
    "mcp",
    "music",
    "payments",
    "productivity",
    "project-management",
    "scheduling",
    "social",
    "storage",
    "support",
    "video",
]
CATEGORIES: tuple[str, ...] = get_args(Category)

# The facts a template states, each of which names the documentation page it comes from.
FACTS = ("endpoints", "scopes", "pkce", "refresh", "api", "whoami")

# A path (and query) relative to api_base_url, or an https URL of the provider's where the
# request lives elsewhere (an identity host's userinfo); ``{value}`` placeholders allowed.
ApiPath = Annotated[
    str,
    Meta(pattern=r"^(/|https://)([A-Za-z0-9._~%!$&'()*+,;=:@/?-]|\{[a-z_]+\})*$", max_length=300),
]
# A field of a JSON answer; numeric parts index lists (``data.0.login``).
_PART = r"([A-Za-z_][A-Za-z0-9_]*|[0-9]+)"
AnswerPath = Annotated[str, Meta(pattern=rf"^{_PART}(\.{_PART})*$")]
Domain = Annotated[str, Meta(pattern=r"^[a-z0-9-]+(\.[a-z0-9-]+)+$", max_length=100)]


class WhoamiSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A request that names the connected account, sent with the connection's token."""

    path: ApiPath
    # The answer's field naming the account (an email, a login, a workspace name).
    account: AnswerPath
    # The answer's field holding the account's stable id, where there is one.
    id: AnswerPath | Literal[""] = ""
    method: Literal["GET", "POST"] = "GET"
    # A JSON body for a POST (a few RPC-style APIs want one, even ``{}`` or ``null``).
    body: Annotated[str, Meta(max_length=200)] = ""
    headers: dict[HeaderName, Annotated[str, Meta(pattern=r"^[\x20-\x7e]{1,200}$")]] = {}


class SourcesSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The provider's documentation page for each fact of the template.

    ``oauth`` is the page of the OAuth guide, the source of the endpoints, PKCE and refresh
    facts unless ``endpoints``, ``pkce`` or ``refresh`` names another page.
    """

    oauth: HttpsUrl
    scopes: OptionalUrl = ""
    endpoints: OptionalUrl = ""
    pkce: OptionalUrl = ""
    refresh: OptionalUrl = ""
    # The API reference that names api_base_url, and the whoami request's page.
    api: OptionalUrl = ""
    whoami: OptionalUrl = ""

    def source(self, fact: str) -> str:
        """The page a fact comes from ("" when the template states no such fact)."""
        found: str = getattr(self, fact)
        if not found and fact in ("endpoints", "pkce", "refresh"):
            return self.oauth
        return found


class ValueSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A per-instance part of the provider's URLs that the user fills in (a shop, a domain)."""

    name: Identifier
    label: str
    description: str
    kind: Literal["label", "host", "segment", "url"]
    example: str
    default: str = ""
    choices: list[str] = []


class TemplateSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One provider data file."""

    id: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
    name: str
    description: str
    homepage: HttpsUrl
    docs: HttpsUrl
    # Whether the provider supports PKCE (RFC 7636); the engine sends it only then.
    pkce: bool
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"]
    logo: OptionalUrl = ""
    # Where a developer registers the OAuth app and finds the client id and secret.
    console: OptionalUrl = ""
    notes: str = ""

    discovery_url: OptionalUrl = ""
    # A remote MCP server (RFC 8707 resource): its RFC 9728 metadata names the authorization
    # server, so no endpoint is needed.
    resource: ResourceUrl = ""
    # The app registers its own client (RFC 7591) at the first connect: no client id to enter.
    use_dcr: bool = False
    authorization_url: OptionalUrl = ""
    token_url: OptionalUrl = ""
    refresh_url: OptionalUrl = ""
    revocation_url: OptionalUrl = ""

    default_scopes: list[Scope] = []
    scope_separator: Annotated[str, Meta(min_length=1, max_length=3)] = " "
    authorize_params: dict[str, str] = {}
    token_params: dict[str, str] = {}
    scope_on_refresh: bool = False
    refresh_margin: Annotated[int, Meta(ge=0, le=86400)] | None = None
    refresh_window: Annotated[int, Meta(ge=1, le=86400)] | None = None

    token_request_format: Literal["form", "json"] = "form"  # noqa: S105
    # Extra HTTP headers of every token, refresh and revocation request (Notion-Version).
    request_headers: dict[HeaderName, Annotated[str, Meta(pattern=r"^[\x20-\x7e]{1,200}$")]] = {}
    # The revocation endpoint's body format, whether it takes RFC 7009's token_type_hint,
    # and which tokens it revokes (the server revokes the refresh token first).
    revocation_request_format: Literal["form", "json"] = "form"
    revocation_token_type_hint: bool = True
    revocation_token_types: Annotated[
        list[Literal["refresh_token", "access_token"]], Meta(min_length=1, max_length=2)
    ] = msgspec.field(default_factory=lambda: ["refresh_token", "access_token"])
    token_response_path: FieldPath | Literal[""] = ""
    success_field: FieldPath | Literal[""] = ""
    extra_token_fields: list[FieldPath] = []
    extra_callback_params: list[ParamName] = []
    subject_field: FieldPath | Literal[""] = ""
    # Does the provider issue refresh tokens at all, and does each refresh replace it?
    refresh_tokens: bool = True
    rotates_refresh_token: bool = False
    hooks: list[str] = []
    # False for public clients (PKCE only, no secret).
    client_secret_required: bool = True

    values: list[ValueSpec] = []

    categories: Annotated[list[Category], Meta(max_length=4)] = []
    # The provider's REST API base (the app field apiBaseUrl of an app made from it), and
    # a request naming the connected account, where the provider has them.
    api_base_url: OptionalUrl = ""
    whoami: WhoamiSpec | None = None
    # Registrable domains the template's endpoints and sources use besides the homepage's
    # (googleapis.com for Google); the catalog refuses a URL on any other.
    domains: list[Domain] = []
    sources: SourcesSpec | None = None
