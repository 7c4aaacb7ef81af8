"""An agent calls the provider's API through the proxy with the user's own JWT: only that
user's connections, with or without Outbound-User-Id; anyone else's is 403."""

from __future__ import annotations

import secrets

import httpx
from tests.e2e.agents.support import user_token
from tests.e2e.conftest import Vault
from tests.support.browser import CallbackCatcher
from tests.support.oidc_server import OidcClient, OidcServer
from tests.support.upstream_api import running_upstream


def test_a_users_jwt_proxies_only_that_users_connection(
    vault: Vault, agents_idp: OidcServer, agent_client: OidcClient, catcher: CallbackCatcher
) -> None:
    user, other = vault.new_user(), vault.new_user()
    with running_upstream() as upstream:
        app_id = "px-" + secrets.token_hex(3)
        with vault.http as http:
            assert http.post(
                "/v1/mgmt/outbound/app/create",
                json={"id": app_id, "name": app_id, "appType": "apikey",
                      "apiBaseUrl": upstream.base_url},
            ).is_success  # fmt: skip
            for owner in (user, other):
                assert http.post(
                    "/v1/mgmt/outbound/app/user/apikey/upload",
                    json={"appId": app_id, "userId": owner, "apiKey": f"key-of-{owner}"},
                ).is_success
        jwt_token = user_token(
            agents_idp, agent_client, catcher, user, resource=vault.server.base_url
        )
        vault.seen.add(jwt_token)
        auth = {"Authorization": f"Bearer {vault.server.project_id}:{jwt_token}"}
        url = f"{vault.server.base_url}/v1/outbound/proxy/{app_id}/echo"

        mine = httpx.get(url, headers=auth, timeout=30)
        assert mine.status_code == 200, mine.text
        assert dict(mine.json()["headers"])["authorization"] == f"Bearer key-of-{user}"
        named = httpx.get(url, headers={**auth, "Outbound-User-Id": user}, timeout=30)
        assert named.status_code == 200
        theirs = httpx.get(url, headers={**auth, "Outbound-User-Id": other}, timeout=30)
        assert (theirs.status_code, theirs.json()["errorCode"]) == (403, "E130403")
        assert theirs.headers["outbound-error"] == "1"
        forged = httpx.get(url, headers={"Authorization": auth["Authorization"] + "x"}, timeout=30)
        assert forged.status_code == 401
        assert upstream.hits()["total"] == 2
