"""From a stored app to the engine's ProviderConfig: the app's fields over the defaults."""

from __future__ import annotations

from typing import Any

from outbound.secret import Secret
from outbound.server.tokens.providers import provider_config
from outbound.storage import AppRecord


def _app(**config: Any) -> AppRecord:
    base = {
        "clientId": "client-1",
        "discoveryUrl": "",
        "authorizationUrl": "https://idp.example/authorize",
        "tokenUrl": "https://idp.example/token",
        "revocationUrl": "",
        "defaultScopes": [],
        "authorizationUrlParams": [],
        "tokenUrlParams": [],
        "pkce": True,
        "accessType": "offline",
        "prompt": [],
        "templateId": "",
        "tokenEndpointAuthMethod": "",
    }
    return AppRecord("P1", "app", "app", {**base, **config}, Secret("s3cret"), 0, 0)


def test_explicit_fields_reach_the_engine() -> None:
    config = provider_config(
        _app(
            defaultScopes=["read", "write"],
            revocationUrl="https://idp.example/revoke",
            tokenEndpointAuthMethod="client_secret_post",
            refreshMargin=60,
            authorizationUrlParams=[{"key": "audience", "value": "api"}],
            tokenUrlParams=[{"key": "resource", "value": "https://api.example"}],
            prompt=["consent", "select_account"],
        )
    )
    assert config.client_id == "client-1"
    assert config.client_secret == Secret("s3cret")
    assert config.token_url == "https://idp.example/token"
    assert config.revocation_url == "https://idp.example/revoke"
    assert config.default_scopes == ("read", "write")
    assert config.token_endpoint_auth_method == "client_secret_post"
    assert config.refresh_margin == 60
    assert dict(config.authorize_params) == {
        "audience": "api",
        "prompt": "consent select_account",
    }
    assert dict(config.token_params) == {"resource": "https://api.example"}
    assert config.pkce is True


def test_an_app_without_a_template_is_not_sent_access_type() -> None:
    # access_type is Google's parameter: other providers are not sent what they don't know.
    assert dict(provider_config(_app(accessType="offline")).authorize_params) == {}


def test_an_app_can_turn_pkce_off() -> None:
    assert provider_config(_app(pkce=False)).pkce is False


def test_no_margin_means_the_servers_default() -> None:
    assert provider_config(_app()).refresh_margin is None


def _from_template(template_id: str, **changes: Any) -> AppRecord:
    """An app as create/bytemplate stores it, with some fields changed afterwards."""
    import msgspec

    from outbound.catalog import get_template
    from outbound.server.http.wire import AppFields, app_config_from_fields

    template = get_template(template_id)
    assert template is not None
    fields = {**template.app_fields({}), "clientId": "client-1", **changes}
    config = app_config_from_fields(msgspec.convert(fields, AppFields))
    return AppRecord("P1", "app", "app", config, Secret("s3cret"), 0, 0)


def test_a_template_apps_quirks_come_from_the_template() -> None:
    config = provider_config(_from_template("google"))
    assert config.authorization_url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert config.token_endpoint_auth_method == "client_secret_post"
    assert dict(config.authorize_params) == {
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }


def test_a_template_apps_own_fields_win() -> None:
    config = provider_config(
        _from_template("google", accessType="online", prompt=[], defaultScopes=["email"])
    )
    assert dict(config.authorize_params) == {
        "access_type": "online",
        "include_granted_scopes": "true",
    }
    assert config.default_scopes == ("email",)
