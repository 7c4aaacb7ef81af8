"""Named hooks: small functions for what a provider template cannot say as data.

A template lists hook names (``ProviderConfig.hooks``); the engine runs each at four
points, in the order listed:

* ``authorize_params(config, params) -> params`` — the authorize URL's query parameters;
* ``token_request(config, request) -> request`` — every code-exchange and refresh request;
* ``revocation_request(config, request) -> request`` — every revocation request;
* ``token_response(config, payload) -> payload`` — the decoded token-endpoint body, before
  errors are classified and tokens read.

All of the engine's hooks live here, so the names a template may use are exactly those
registered in this module (and any a deployment registers itself).

Register new hooks with :func:`register`; an unknown name in a configuration is an
:class:`~outbound.oauth.errors.OAuthConfigError`, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import OAuthConfigError

if TYPE_CHECKING:
    from .config import ProviderConfig
    from .messages import TokenRequest

__all__ = ["Hook", "get", "names", "register"]

Params = list[tuple[str, str]]


@dataclass(frozen=True)
class Hook:
    name: str
    description: str
    authorize_params: Callable[[ProviderConfig, Params], Params] | None = None
    token_request: Callable[[ProviderConfig, TokenRequest], TokenRequest] | None = None
    revocation_request: Callable[[ProviderConfig, TokenRequest], TokenRequest] | None = None
    token_response: Callable[[ProviderConfig, dict[str, Any]], dict[str, Any]] | None = None


_REGISTRY: dict[str, Hook] = {}


def register(hook: Hook) -> Hook:
    if hook.name in _REGISTRY:
        raise ValueError(f"a hook named {hook.name!r} is already registered")
    _REGISTRY[hook.name] = hook
    return hook


def get(name: str) -> Hook:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise OAuthConfigError(
            "unknown_hook", f"no hook named {name!r}; known hooks: {', '.join(names())}"
        ) from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def for_config(config: ProviderConfig) -> list[Hook]:
    return [get(name) for name in config.hooks]


# -- the built-in hooks ----------------------------------------------------------------------


def _accept_json(config: ProviderConfig, request: TokenRequest) -> TokenRequest:
    headers = tuple((k, v) for k, v in request.headers if k.lower() != "accept")
    return replace(request, headers=(*headers, ("Accept", "application/json")))


def _comma_separated_scopes(config: ProviderConfig, payload: dict[str, Any]) -> dict[str, Any]:
    scope = payload.get("scope")
    if isinstance(scope, str):
        payload = {**payload, "scope": [s.strip() for s in scope.split(",") if s.strip()]}
    return payload


def _user_scope(config: ProviderConfig, params: Params) -> Params:
    return [("user_scope" if key == "scope" else key, value) for key, value in params]


def _client_key_params(config: ProviderConfig, params: Params) -> Params:
    return [("client_key" if key == "client_id" else key, value) for key, value in params]


def _client_key_request(config: ProviderConfig, request: TokenRequest) -> TokenRequest:
    fields = tuple(
        ("client_key" if key == "client_id" else key, value) for key, value in request.fields
    )
    return replace(request, fields=fields)


register(
    Hook(
        "accept_json",
        "Ask for a JSON token response with an Accept header (GitHub answers form-encoded"
        " bodies otherwise).",
        token_request=_accept_json,
    )
)
register(
    Hook(
        "comma_separated_scopes",
        "The token response lists granted scopes separated by commas (GitHub), whatever the"
        " authorize URL's separator.",
        token_response=_comma_separated_scopes,
    )
)
register(
    Hook(
        "user_scope",
        "Request the scopes as ``user_scope`` instead of ``scope`` (Slack user tokens).",
        authorize_params=_user_scope,
    )
)
register(
    Hook(
        "client_key",
        "Send the client id as ``client_key`` in the authorize URL, the token requests and"
        " the revocation request (TikTok).",
        authorize_params=_client_key_params,
        token_request=_client_key_request,
        revocation_request=_client_key_request,
    )
)
