"""Named hooks the catalog's templates need beyond the engine's built-in ones.

They are registered with the engine's registry (:func:`outbound.oauth.hooks.register`) when
the catalog is imported; the catalog is imported whenever a configuration is built from a
template, so a template's hooks are always known by the time the engine runs them.
"""

from __future__ import annotations

from dataclasses import replace

from ..oauth import hooks
from ..oauth.config import ProviderConfig
from ..oauth.messages import TokenRequest

__all__ = ["CLIENT_KEY"]

Params = list[tuple[str, str]]


def _client_key_params(config: ProviderConfig, params: Params) -> Params:
    return [("client_key" if key == "client_id" else key, value) for key, value in params]


def _client_key_request(config: ProviderConfig, request: TokenRequest) -> TokenRequest:
    fields = tuple(
        ("client_key" if key == "client_id" else key, value) for key, value in request.fields
    )
    return replace(request, fields=fields)


def _register(hook: hooks.Hook) -> hooks.Hook:
    # Importing the catalog twice (reloads in tests) must not fail on a duplicate name.
    if hook.name in hooks.names():
        return hooks.get(hook.name)
    return hooks.register(hook)


CLIENT_KEY = _register(
    hooks.Hook(
        "client_key",
        "Send the client id as ``client_key`` in the authorize URL and token requests"
        " (TikTok).",
        authorize_params=_client_key_params,
        token_request=_client_key_request,
    )
)
