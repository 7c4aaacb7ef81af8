"""The I/O-free core: request bodies, answers, errors, retry decisions, settings, masking."""

from __future__ import annotations

import json
from typing import Any

import pytest
from descope.exceptions import ERROR_TYPE_API_RATE_LIMIT, ERROR_TYPE_SERVER_ERROR
from descope.management._outbound_application_base import OutboundApplicationBase
from descope.management.common import AccessType, PromptType, URLParam

from outbound import (
    BadRequestError,
    Client,
    ConfigurationError,
    NotFoundError,
    OutboundError,
    ProviderUnavailableError,
    RateLimitedError,
    ReconnectRequiredError,
    UnauthorizedError,
)
from outbound.client import _requests as build
from outbound.client._config import resolve_config
from outbound.client._core import ApiRequest, Reply, RetryPolicy, Send, Wait, exchange
from outbound.client._exceptions import error_from_response
from outbound.client._masking import MaskedDict
from outbound.secret import Secret

APP_FIELDS: tuple[Any, ...] = (
    "Calendar",
    "reads calendars",
    "https://logo.example/c.png",
    "app-1",
    "shh",
    "client-123",
    "https://provider.example/.well-known/openid-configuration",
    "https://provider.example/authorize",
    [URLParam("hd", "example.com")],
    "https://provider.example/token",
    [],
    "https://provider.example/revoke",
    ["read"],
    "https://app.example/done",
    "app.example",
    True,
    AccessType.OFFLINE,
    [PromptType.CONSENT, PromptType.SELECT_ACCOUNT],
)


def test_app_bodies_are_the_official_sdks() -> None:
    official = OutboundApplicationBase._compose_create_update_body(*APP_FIELDS)
    assert build.create_application(*APP_FIELDS).body == official
    name, description, logo, app_id, *rest = APP_FIELDS
    update = build.update_application(app_id, name, description, logo, *rest)
    assert update.body == {"app": official}
    sparse = OutboundApplicationBase._compose_create_update_body("Bare")
    assert build.create_application("Bare", *[None] * 17).body == sparse


def test_upload_bodies_are_the_official_sdks() -> None:
    base = {"appId": "a", "userId": "u"}
    # descope's helper takes granted_by before verify_refresh; the methods take them reversed
    official = OutboundApplicationBase._compose_oauth_upload_body(
        dict(base), "r", "t", 99, "Bearer", ["s"], "ext", "id", "me", True
    )
    ours = build.upload_user_token(
        "a", "u", None, "r", "t", 99, "Bearer", ["s"], "ext", "id", True, "me"
    )
    assert ours.body == official


def test_secrets_are_accepted_wrapped_and_sent_plain() -> None:
    request = build.upload_user_api_key("a", "u", Secret("k-123"), None)
    assert request.encoded_body() == b'{"appId":"a","userId":"u","apiKey":"k-123"}'
    batch = build.batch_upload_user_tokens([{"appId": "a", "accessToken": Secret("t-1")}])
    assert json.loads(batch.encoded_body() or b"") == {
        "tokens": [{"appId": "a", "accessToken": "t-1"}]
    }


def test_fetch_bodies_send_null_for_absent_options_like_the_official_sdk() -> None:
    assert build.fetch_token("a", "u", None, None).body == {
        "appId": "a",
        "userId": "u",
        "tenantId": None,
        "options": None,
    }
    request = build.delete_user_tokens("a", None)
    assert (request.method, request.path, request.params) == (
        "DELETE",
        "/v1/mgmt/outbound/user/tokens",
        {"appId": "a"},
    )


def test_only_create_and_connect_are_not_idempotent() -> None:
    assert not build.create_application("x", *[None] * 17).idempotent
    assert not build.connect("a", "u", None, None, None, None).idempotent
    assert build.fetch_token("a", "u", None, None).idempotent
    assert build.upload_user_token("a", "u", None, None, "t", *[None] * 7).idempotent


def test_connect_body() -> None:
    assert build.connect("a", None, "t", "https://x.example/back", ["s"], None).body == {
        "appId": "a",
        "userId": None,
        "tenantId": "t",
        "tenantLevel": True,
        "options": {"redirectUrl": "https://x.example/back", "scopes": ["s"]},
    }


def error(status: int, body: object, headers: dict[str, str] | None = None) -> OutboundError:
    return error_from_response(status, headers or {}, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "E011002", BadRequestError),
        (401, "E130401", UnauthorizedError),
        (404, "E111504", NotFoundError),
        (404, "E131001", NotFoundError),
        (409, "E131010", ReconnectRequiredError),
        (503, "E131011", ProviderUnavailableError),
        (429, "E130429", RateLimitedError),
        (500, "E130500", OutboundError),
    ],
)
def test_error_codes_map_to_classes(status: int, code: str, expected: type[OutboundError]) -> None:
    body = {"errorCode": code, "errorDescription": "what it means", "errorMessage": "what happened"}
    exc = error(status, body)
    assert type(exc) is expected
    assert (exc.status, exc.error_code, exc.description, exc.message) == (
        status,
        code,
        "what it means",
        "what happened",
    )
    assert str(exc) == f"HTTP {status} {code}: what happened"
    # descope's AuthException attributes, with descope's meanings
    assert exc.status_code == status
    assert exc.error_type == (
        ERROR_TYPE_API_RATE_LIMIT if status == 429 else ERROR_TYPE_SERVER_ERROR
    )
    assert json.loads(exc.error_message)["errorCode"] == code


def test_rate_limited_carries_retry_after() -> None:
    exc = error(429, {"errorCode": "E130429"}, {"retry-after": "7"})
    assert isinstance(exc, RateLimitedError)
    assert exc.retry_after == 7
    assert exc.rate_limit_parameters == {"Retry-After": 7}


def test_a_non_json_error_page_is_not_echoed() -> None:
    exc = error_from_response(502, {}, b"<html>bad gateway from the proxy</html>")
    assert type(exc) is OutboundError
    assert exc.message == "the server answered 502"


def drive(
    request: ApiRequest, replies: list[Reply], policy: RetryPolicy
) -> tuple[object, list[object]]:
    """Run the core's exchange over canned replies; returns the result and the steps taken."""
    flow = exchange(request, policy)
    steps: list[object] = []
    step = next(flow)
    try:
        while True:
            steps.append(step)
            step = flow.send(replies.pop(0) if isinstance(step, Send) else None)
    except StopIteration as done:
        return done.value, steps


OK = Reply(200, {}, b'{"token":{"token":"t"}}')


def test_retry_after_is_honoured_on_429_for_any_call() -> None:
    request = build.create_application("x", *[None] * 17)
    limited = Reply(429, {"retry-after": "2"}, b"{}")
    result, steps = drive(request, [limited, OK], RetryPolicy())
    assert result == {"token": {"token": "t"}}
    assert [type(s) for s in steps] == [Send, Wait, Send]
    assert steps[1] == Wait(2.0)


def test_5xx_is_retried_for_idempotent_calls_only() -> None:
    unavailable = Reply(503, {}, b"{}")
    result, steps = drive(
        build.fetch_token("a", "u", None, None), [unavailable, unavailable, OK], RetryPolicy()
    )
    assert result == {"token": {"token": "t"}}
    waits = [s.seconds for s in steps if isinstance(s, Wait)]
    assert len(waits) == 2 and 0 < waits[0] <= 0.25 and 0 < waits[1] <= 0.5

    with pytest.raises(OutboundError) as caught:
        drive(build.create_application("x", *[None] * 17), [unavailable, OK], RetryPolicy())
    assert caught.value.status == 503


def test_retries_stop_after_max_retries() -> None:
    replies = [Reply(502, {}, b"")] * 3
    with pytest.raises(OutboundError) as caught:
        drive(build.fetch_token("a", "u", None, None), replies, RetryPolicy(max_retries=2))
    assert caught.value.status == 502


def test_a_retry_after_beyond_max_wait_is_raised_at_once() -> None:
    limited = Reply(429, {"retry-after": "3600"}, b'{"errorCode":"E130429"}')
    with pytest.raises(RateLimitedError) as caught:
        drive(build.fetch_token("a", "u", None, None), [limited], RetryPolicy())
    assert caught.value.retry_after == 3600


def test_4xx_is_never_retried() -> None:
    with pytest.raises(NotFoundError):
        drive(build.fetch_token("a", "u", None, None), [Reply(404, {}, b"{}"), OK], RetryPolicy())


def test_settings_come_from_outbound_then_descope_variables() -> None:
    env = {
        "DESCOPE_PROJECT_ID": "P-descope",
        "DESCOPE_MANAGEMENT_KEY": "k-descope",
        "DESCOPE_BASE_URI": "http://descope.local/",
        "OUTBOUND_PROJECT_ID": "P-outbound",
    }
    config = resolve_config(None, None, None, None, env)
    assert config.project_id == "P-outbound"
    assert config.management_key.reveal() == "k-descope"
    assert config.base_url == "http://descope.local"
    assert config.timeout == 10.0
    explicit = resolve_config("P", "k", "https://vault.example", 2, env)
    assert (explicit.project_id, explicit.base_url, explicit.timeout) == (
        "P",
        "https://vault.example",
        2,
    )


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("project", "OUTBOUND_PROJECT_ID (or DESCOPE_PROJECT_ID)"),
        ("key", "OUTBOUND_MANAGEMENT_KEY (or DESCOPE_MANAGEMENT_KEY)"),
        ("url", "OUTBOUND_BASE_URL (or DESCOPE_BASE_URI)"),
    ],
)
def test_a_missing_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, missing: str, named: str
) -> None:
    settings = {
        "project": ("OUTBOUND_PROJECT_ID", "DESCOPE_PROJECT_ID"),
        "key": ("OUTBOUND_MANAGEMENT_KEY", "DESCOPE_MANAGEMENT_KEY"),
        "url": ("OUTBOUND_BASE_URL", "DESCOPE_BASE_URI"),
    }
    for name, variables in settings.items():
        for variable in variables:
            monkeypatch.delenv(variable, raising=False)
        if name != missing:
            monkeypatch.setenv(variables[1], "http://x.example" if name == "url" else "v")
    with pytest.raises(ConfigurationError) as caught:
        # Without a key the client still fetches with users' tokens (by-token); a management
        # call raises before anything is sent.
        Client().mgmt.outbound_application.load_all_applications()
    assert named in str(caught.value)
    assert caught.value.status_code == 400
    assert caught.value.error_type == "invalid argument"


def test_a_base_url_without_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must start with http"):
        resolve_config("P", "k", "vault.example:8080", None, {})


def test_results_are_dicts_whose_repr_hides_secrets() -> None:
    result = MaskedDict(
        token=MaskedDict(token="at-1", accessToken="at-1", refreshToken="rt-1", scopes=["a"])
    )
    assert isinstance(result, dict)
    assert result["token"]["token"] == "at-1"
    assert json.loads(json.dumps(result))["token"]["refreshToken"] == "rt-1"
    for text in (repr(result), str(result), f"{result}", repr([result])):
        assert "at-1" not in text and "rt-1" not in text
    assert "'scopes': ['a']" in repr(result)


def test_list_connections_sends_only_the_filters_given() -> None:
    request = build.list_connections("a", None, None, "refresh_failing", 50, None)
    assert (request.method, request.path, request.body) == (
        "GET",
        "/v1/mgmt/outbound/connections",
        None,
    )
    assert request.params == {"appId": "a", "status": "refresh_failing", "limit": "50"}
    assert build.list_connections(None, None, None, None, None, "c1").params == {"cursor": "c1"}
