"""wire.py's round-trip rules as pure functions (docs/api.md, "Round trips")."""

from __future__ import annotations

import pytest

from outbound.server.http.errors import ApiError
from outbound.server.http.wire import AppFields, TokenUpload, app_config_from_fields, decode


def config(body: bytes, stored: dict | None = None) -> dict:
    return app_config_from_fields(decode(body, AppFields), stored)


def test_a_derived_app_type_follows_the_urls_and_a_given_one_stays() -> None:
    derived = config(b'{"name": "n"}')
    assert derived["appType"] == "apikey"
    # sent back unchanged with a token URL: read-only, derived again
    assert (
        config(b'{"appType": "apikey", "tokenUrl": "https://p/t"}', derived)["appType"] == "oauth"
    )
    given = config(b'{"appType": "apikey"}')
    assert config(b'{"appType": "apikey", "tokenUrl": "https://p/t"}', given)["appType"] == "apikey"
    assert config(b'{"tokenUrl": "https://p/t"}', given)["appType"] == "apikey"  # omitted: kept
    assert config(b'{"appType": "", "tokenUrl": "https://p/t"}', given)["appType"] == "oauth"


def test_apps_stored_before_the_flag_count_as_derived_when_the_derivation_agrees() -> None:
    old_derived = {"appType": "apikey", "tokenUrl": ""}  # no appTypeDerived key
    assert (
        config(b'{"appType": "apikey", "tokenUrl": "https://p/t"}', old_derived)["appType"]
        == "oauth"
    )
    old_given = {"appType": "oauth", "tokenUrl": ""}  # disagrees with the derivation: given
    assert config(b"{}", old_given)["appType"] == "oauth"


def test_fields_the_python_sdk_cannot_send_are_kept_when_omitted_and_cleared_by_empty() -> None:
    stored = config(
        b'{"templateId": "github", "tenantId": "t1", "refreshMargin": 60,'
        b' "tokenEndpointAuthMethod": "client_secret_post"}'
    )
    kept = config(b'{"description": "d", "templateId": null}', stored)
    assert (kept["templateId"], kept["tenantId"], kept["refreshMargin"]) == ("github", "t1", 60)
    assert kept["tokenEndpointAuthMethod"] == "client_secret_post"
    cleared = config(b'{"templateId": "", "tenantId": "", "tokenEndpointAuthMethod": ""}', stored)
    assert (cleared["templateId"], cleared["tenantId"], cleared["tokenEndpointAuthMethod"]) == (
        "",
        "",
        "",
    )


def test_a_token_upload_takes_the_fetched_forms() -> None:
    upload = decode(
        b'{"appId": "a", "userId": "u", "tenantId": "", "externalIdentifier": "",'
        b' "accessToken": "x", "refreshToken": "", "accessTokenExpiry": "1767225600",'
        b' "id": "tok_1", "hasRefreshToken": true, "lastRefreshTime": "1"}',
        TokenUpload,
    )
    assert (upload.tenant_id, upload.external_identifier, upload.refresh_token) == (None,) * 3
    assert upload.expiry == 1767225600


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"accessTokenExpiry": "9999999999999"}', "accessTokenExpiry"),
        (b'{"accessTokenExpiry": "soon"}', "accessTokenExpiry"),
        (b'{"accessTokenExpiry": -1}', "accessTokenExpiry"),
    ],
)
def test_a_bad_expiry_is_a_400_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode(body, TokenUpload)
    assert caught.value.code == "E011003" and field in caught.value.message
