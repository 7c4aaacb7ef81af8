"""Failed authentication is rate-limited per address and per project (429 E130429 with
Retry-After) without ever limiting requests that authenticate; the optional per-key limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import LiveServer, Store, running_server

LIMIT = 5
FETCH = "/v1/mgmt/outbound/app/user/token/latest"


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[LiveServer]:
    with running_server(store, extra_args=["--auth-failure-limit", str(LIMIT)]) as server:
        with server.client() as http:
            http.post("/v1/mgmt/outbound/app/create", json={"id": "al-app", "name": "al-app"})
            http.post(
                "/v1/mgmt/outbound/app/user/apikey/upload",
                json={"appId": "al-app", "userId": "u", "apiKey": "al-secret"},
            )
        yield server


def bad(
    server: LiveServer, path: str = FETCH, *, forwarded_for: str = "", project: str = ""
) -> httpx.Response:
    project = project or server.project_id
    headers = {"Authorization": f"Bearer {project}:obk_000000000000_wrong"}
    if forwarded_for:  # uvicorn trusts X-Forwarded-For from loopback (a proxy on the machine)
        headers["X-Forwarded-For"] = forwarded_for
    if path == FETCH:
        return httpx.post(server.base_url + path, json={"appId": "al-app", "userId": "u"},
                          headers=headers)  # fmt: skip
    return httpx.get(server.base_url + path, headers=headers)


def good(server: LiveServer) -> httpx.Response:
    return httpx.post(
        server.base_url + FETCH, json={"appId": "al-app", "userId": "u"}, headers=server.auth_header
    )


def test_failed_authentication_is_limited_and_successes_never_are(server: LiveServer) -> None:
    # One address guessing at many projects (each project sees one failure).
    answers = [bad(server, forwarded_for="203.0.113.7", project=f"P{i}") for i in range(LIMIT)]
    assert [a.status_code for a in answers] == [401] * LIMIT
    # Over the limit, on the fast fetch path and on every other route alike.
    for path in (FETCH, "/v1/mgmt/outbound/apps"):
        limited = bad(server, path, forwarded_for="203.0.113.7", project="Pnext")
        assert limited.status_code == 429, limited.text
        assert limited.json()["errorCode"] == "E130429"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
    # The project is under attack, yet its real key keeps working, from any address.
    for _ in range(3):
        response = good(server)
        assert response.status_code == 200
        assert response.json()["token"]["token"] == "al-secret"


def test_failures_against_one_project_are_limited_from_any_address(server: LiveServer) -> None:
    statuses = [bad(server, forwarded_for=f"198.51.100.{i}").status_code for i in range(12)]
    # every address is new, yet the project's count runs out (it may already have in the
    # test before, within the same minute)
    assert 429 in statuses
    assert statuses[-1] == 429
    assert good(server).status_code == 200


def test_the_per_key_request_limit_is_off_by_default(server: LiveServer) -> None:
    """The module's server runs without --key-rate-limit: a burst far past any limit one
    would set is served in full (the failed-authentication limit never touches successes)."""
    with server.client() as http:
        http.post("/v1/mgmt/outbound/app/create", json={"id": "kr-default", "name": "kr-default"})
        statuses = [
            http.post(FETCH, json={"appId": "kr-default", "userId": "u"}).status_code
            for _ in range(60)
        ]
        assert 429 not in statuses
        assert statuses.count(404) == 60  # no token for u: answered, not limited


def test_a_per_key_request_limit_is_optional(store: Store) -> None:
    # One request per 10 s, bursts of 1: the answers below do not depend on how fast this
    # machine sends eight requests.
    with running_server(store, extra_args=["--key-rate-limit", "0.1"]) as server:
        with server.client() as http:
            http.post("/v1/mgmt/outbound/app/create", json={"id": "kr-app", "name": "kr-app"})
            statuses = [
                http.post(FETCH, json={"appId": "kr-app", "userId": "u"}).status_code
                for _ in range(8)
            ]
            assert statuses.count(429) >= 7  # the create spent the burst
            # The budget is spent: the next request, of any route, is limited too.
            limited = http.get("/v1/mgmt/outbound/apps")
            assert limited.status_code == 429
            assert limited.json()["errorCode"] == "E130429"
            assert 1 <= int(limited.headers["retry-after"]) <= 10
        # Another key of the same project has its own budget.
        other_project, other_key = server.new_project()
        response = httpx.get(
            server.base_url + "/v1/mgmt/outbound/apps",
            headers={"Authorization": f"Bearer {other_project}:{other_key}"},
        )
        assert response.status_code == 200
