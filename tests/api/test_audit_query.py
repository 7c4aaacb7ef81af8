"""The audit log's id filters follow the one id rule of every other query (found by the
schemathesis run of tests/api/test_fuzz.py: a control character in appId was answered 200)."""

from __future__ import annotations

import pytest

from tests.support.server import LiveServer


@pytest.mark.parametrize("name", ["appId", "userId"])
@pytest.mark.parametrize("value", ["a\x00b", "\u202eevil", "x" * 257])
def test_a_malformed_id_filter_is_a_400_naming_it(
    live_server: LiveServer, name: str, value: str
) -> None:
    with live_server.client() as client:
        response = client.get("/v1/mgmt/outbound/audit", params={name: value})
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "E011003"
    assert name in response.json()["errorMessage"]
