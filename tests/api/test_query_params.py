"""Query parameters that are not what they claim — numbers that are not numbers, cursors
nobody handed out — are a 400 naming the parameter, never a 500, and change nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support.server import LiveServer

M = "/v1/mgmt/outbound"
APP = "query-app"


@pytest.fixture(scope="module")
def project(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A project of its own with an app, three connections and a webhook."""
    project_id, key = live_server.new_project()
    with httpx.Client(
        base_url=live_server.base_url,
        headers={"Authorization": f"Bearer {project_id}:{key}"},
        timeout=30,
    ) as client:
        created = client.post(
            f"{M}/app/create", json={"id": APP, "name": APP, "tokenUrl": "https://p.example/t"}
        )
        assert created.status_code == 200, created.text
        for user in ("u1", "u2", "u3"):
            uploaded = client.post(
                f"{M}/app/user/oauthtoken/upload",
                json={"appId": APP, "userId": user, "accessToken": "a-" + user},
            )
            assert uploaded.status_code == 200, uploaded.text
        yield client


def unsigned(value: Any) -> str:
    """A cursor in the shape the server once handed out (base64url JSON), unsigned."""
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


NOT_NUMBERS: list[tuple[str, dict[str, str]]] = [
    (f"{M}/audit", {"since": "inf"}),
    (f"{M}/audit", {"since": "-inf"}),
    (f"{M}/audit", {"since": "nan"}),
    (f"{M}/audit", {"since": "1e17"}),
    (f"{M}/audit", {"since": "1e400"}),
    (f"{M}/audit", {"since": "99999999999999"}),
    (f"{M}/audit", {"until": "Infinity"}),
    (f"{M}/audit", {"since": "\u0663"}),  # Arabic-Indic three
    (f"{M}/audit", {"limit": "\u00b2"}),  # superscript two: isdigit() but not int()
    (f"{M}/audit", {"limit": "1e3"}),
    (f"{M}/audit", {"limit": "-1"}),
    (f"{M}/audit", {"limit": "0"}),
    (f"{M}/audit", {"limit": "99999999999999999999999"}),
    (f"{M}/audit", {"cursor": "\u00b2"}),
    (f"{M}/audit", {"cursor": "9" * 19}),
    (f"{M}/audit", {"cursor": "12"}),  # a bare sequence number: not a cursor we handed out
    (f"{M}/connections", {"limit": "\u00b2"}),
    (f"{M}/connections", {"limit": "\u0663"}),
    (f"{M}/connections", {"cursor": unsigned([2**63, "x"])}),
    (f"{M}/connections", {"cursor": unsigned([True, "x"])}),
    (f"{M}/connections", {"cursor": unsigned([1, "x"])}),
    (f"{M}/connections", {"cursor": "not a cursor"}),
    (f"{M}/connections", {"cursor": "\u00e9t\u00e9.x"}),
]


@pytest.mark.parametrize(("path", "params"), NOT_NUMBERS, ids=ascii)
def test_numbers_and_cursors_that_are_not_are_a_400(
    project: httpx.Client, path: str, params: dict[str, str]
) -> None:
    answer = project.get(path, params=params)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["errorCode"] == "E011003"
    assert repr(next(iter(params))) in error["errorMessage"], error


def test_cursors_are_opaque_and_signed(live_server: LiveServer, project: httpx.Client) -> None:
    first = project.get(f"{M}/connections", params={"limit": 1}).json()
    cursor = first["nextCursor"]
    assert cursor
    # what it holds is none of the caller's business, and is not the row it stands for
    assert first["connections"][0]["id"] not in cursor
    second = project.get(f"{M}/connections", params={"limit": 1, "cursor": cursor})
    assert second.status_code == 200
    assert second.json()["connections"][0]["id"] != first["connections"][0]["id"]

    # altered, in its position or its signature: refused
    body, mac = cursor.split(".")
    # another position (the start of the list) under the same signature
    moved = base64.urlsafe_b64encode(unsigned([0, ""]).encode()).decode().rstrip("=")
    assert moved != body
    flipped = mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    for forged in (f"{moved}.{mac}", f"{body}.{flipped}", body, unsigned([0, ""])):
        answer = project.get(f"{M}/connections", params={"limit": 1, "cursor": forged})
        assert answer.status_code == 400, (forged, answer.text)
    # another list's cursor, or another project's: refused
    audit = project.get(f"{M}/audit", params={"limit": 1}).json()
    assert audit["nextCursor"]
    assert (
        project.get(f"{M}/connections", params={"cursor": audit["nextCursor"]}).status_code == 400
    )
    assert project.get(f"{M}/audit", params={"cursor": cursor}).status_code == 400
    assert project.get(f"{M}/audit", params={"cursor": audit["nextCursor"]}).status_code == 200
    with live_server.client() as other:
        assert other.get(f"{M}/connections", params={"cursor": cursor}).status_code == 400
