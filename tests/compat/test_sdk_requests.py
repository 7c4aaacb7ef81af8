"""The official Go and Java SDKs' requests, replayed: each request exactly as the SDK builds it
(``sdk_requests.json``: method, path, query, body, with the source file and commit it was read
from), in the SDK's order, against a live server on each backend; each answer carries what the
SDK decodes, with the JSON type it decodes it as."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import LiveServer

FIXTURES = json.loads((Path(__file__).parent / "sdk_requests.json").read_text())
TYPES = {"string": str, "boolean": bool, "array": list, "object": dict}


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, actual in names.items():
            value = value.replace("{" + name + "}", actual)
        return value
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, names) for key, item in value.items()}
    return value


def _at(answer: Any, path: str) -> Any:
    for part in path.split("."):
        assert isinstance(answer, dict) and part in answer, f"the answer has no {path!r}"
        answer = answer[part]
    return answer


def _upload(http: httpx.Client, names: dict[str, str]) -> str:
    """A token for the user and one for the tenant (the SDKs cannot upload); the user's id."""
    for kind, owner in (("user", {"userId": names["userId"]}), ("tenant", {})):
        response = http.post(
            f"/v1/mgmt/outbound/app/{kind}/oauthtoken/upload",
            json={
                "appId": names["appId"],
                **owner,
                "tenantId": names["tenantId"] if kind == "tenant" else None,
                "accessToken": f"{kind}-access-" + secrets.token_hex(8),
                "refreshToken": f"{kind}-refresh-" + secrets.token_hex(8),
                "accessTokenExpiry": int(time.time()) + 3600,
                "scopes": ["read", "write"],
            },
        )
        assert response.status_code == 200, response.text
    fetched = http.post(
        "/v1/mgmt/outbound/app/user/token/latest",
        json={"appId": names["appId"], "userId": names["userId"]},
    )
    assert fetched.status_code == 200, fetched.text
    token_id: str = fetched.json()["token"]["id"]
    return token_id


@pytest.mark.parametrize("sdk", sorted(FIXTURES["sdks"]))
def test_the_sdks_requests_replay_with_the_answers_they_decode(
    live_server: LiveServer, sdk: str
) -> None:
    recorded = FIXTURES["sdks"][sdk]
    names = {
        "appId": f"{sdk}-" + secrets.token_hex(3),
        "userId": f"{sdk}-user-" + secrets.token_hex(3),
        "tenantId": f"{sdk}-tenant-" + secrets.token_hex(3),
    }
    with live_server.client() as http:
        for step in recorded["steps"]:
            body = _fill(step.get("body"), names)
            response = http.request(
                step["method"],
                _fill(step["path"], names),
                params=_fill(step.get("query"), names),
                content=json.dumps(body).encode() if body is not None else None,
                headers={"content-type": "application/json"},
            )
            assert response.status_code == step["status"], (step["call"], response.text)
            answer = response.json()
            for path, kind in step["parses"].items():
                assert isinstance(_at(answer, path), TYPES[kind]), (step["call"], path)
            if step["call"].lower() == "createapplication":
                names["tokenId"] = _upload(http, names)  # what the later steps fetch
            if step["call"] == "updateApplication":  # Java's flat body updated the app
                assert answer["app"]["name"] == f"java-renamed-{names['appId']}"
        assert http.get(f"/v1/mgmt/outbound/app/{names['appId']}").status_code == 404


def test_a_java_delete_of_a_users_tokens_removes_them_whichever_way_it_names_them(
    live_server: LiveServer,
) -> None:
    names = {
        "appId": "jd-" + secrets.token_hex(3),
        "userId": "jd-user",
        "tenantId": "jd-tenant",
    }
    with live_server.client() as http:
        created = http.post(
            "/v1/mgmt/outbound/app/create", json={"id": names["appId"], "name": names["appId"]}
        )
        assert created.status_code == 200, created.text
        for where in ("json", "params"):
            _upload(http, names)
            ids = {"appId": names["appId"], "userId": names["userId"]}
            response = http.request(
                "DELETE",
                "/v1/mgmt/outbound/tokens",
                **{where: ids},  # type: ignore[arg-type]
            )
            assert response.status_code == 200, response.text
            gone = http.post(
                "/v1/mgmt/outbound/app/user/token/latest",
                json={"appId": names["appId"], "userId": names["userId"]},
            )
            assert gone.status_code == 404, (where, gone.text)


def test_a_token_delete_without_an_id_anywhere_is_a_400_naming_id(
    live_server: LiveServer,
) -> None:
    """What a Java client whose HTTP layer dropped the DELETE's body would get: a clear 400,
    and nothing deleted."""
    with live_server.client() as http:
        for content in (None, b"", b"{}", b'{"id": null}'):
            response = http.request("DELETE", "/v1/mgmt/outbound/token", content=content)
            assert response.status_code == 400, response.text
            answer = response.json()
            assert answer["errorCode"] == "E011002" and "'id'" in answer["errorMessage"]
