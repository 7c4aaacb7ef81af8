"""``outbound connections list`` and ``outbound webhooks …`` against a running server."""

from __future__ import annotations

import json
from typing import Any

from tests.support.server import LiveServer, outbound_cli
from tests.support.webhook_receiver import WebhookReceiver


def _cli(server: LiveServer, *args: str) -> list[dict[str, Any]]:
    out = outbound_cli(
        *args,
        "--url",
        server.base_url,
        "--project",
        server.project_id,
        env={"OUTBOUND_MANAGEMENT_KEY": server.management_key},
    )
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_webhooks_and_connections_from_the_command_line(live_server: LiveServer) -> None:
    with WebhookReceiver() as receiver:
        [added] = _cli(
            live_server, "webhooks", "add", receiver.url, "--event", "connection.created"
        )
        secret = str(added["secret"])
        assert secret.startswith("whsec_")
        receiver.secrets.append(secret)
        webhook_id = str(added["webhook"]["id"])
        listed = _cli(live_server, "webhooks", "list")
        assert [w["id"] for w in listed] == [webhook_id]
        assert secret not in json.dumps(listed)

        with live_server.client() as http:
            app_id = http.post(
                "/v1/mgmt/outbound/app/create", json={"name": "cli-keys", "appType": "apikey"}
            ).json()["app"]["id"]
            for user in ("cli-a", "cli-b", "cli-c"):
                http.post(
                    "/v1/mgmt/outbound/app/user/apikey/upload",
                    json={"appId": app_id, "userId": user, "apiKey": "canary-" + user},
                ).raise_for_status()
        receiver.wait_for("connection.created", count=3)

        found = _cli(live_server, "connections", "list", "--app", app_id)
        assert sorted(c["userId"] for c in found) == ["cli-a", "cli-b", "cli-c"]
        assert {c["status"] for c in found} == {"active"}
        assert "canary-" not in json.dumps(found)
        assert len(_cli(live_server, "connections", "list", "--app", app_id, "--limit", "2")) == 2
        assert (
            _cli(
                live_server,
                "connections",
                "list",
                "--status",
                "reconnect_required",
                "--app",
                app_id,
            )
            == []
        )

        deliveries = _cli(live_server, "webhooks", "deliveries", webhook_id)
        assert len(deliveries) == 3
        assert all(d["status"] == "delivered" for d in deliveries)
        [retried] = _cli(
            live_server, "webhooks", "deliveries", webhook_id, "--retry", str(deliveries[0]["id"])
        )
        assert retried["delivery"]["status"] == "pending"
        receiver.wait_for("connection.created", count=4)

        [rotated] = _cli(live_server, "webhooks", "rotate", webhook_id, "--overlap", "0")
        assert str(rotated["secret"]).startswith("whsec_") and rotated["secret"] != secret
        assert _cli(live_server, "webhooks", "remove", webhook_id) == [
            {"id": webhook_id, "removed": True}
        ]
        assert _cli(live_server, "webhooks", "list") == []
        assert receiver.rejected == []
