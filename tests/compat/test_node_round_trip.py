"""The official Node SDK's load → spread → update, over many app configurations (issue 15).

The same strategies as the raw-HTTP property (tests/support/app_round_trip.py) draw the apps
and the changes; hypothesis runs derandomized, without shrinking, to collect the cases, the
apps are made over HTTP (by `create` and by template with overrides), and one `node` process
loads each through the SDK, spreads it with the change into `updateApplication` and loads it
again — on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from tests.compat.test_node_sdk import COMPAT_DIR, ensure_installed
from tests.support.app_round_trip import (
    EXAMPLES,
    SETTINGS,
    apply,
    by_template,
    change,
    create,
    expected_after,
    plain_create,
)
from tests.support.server import LiveServer

Case = tuple[dict[str, Any], tuple[str, Any] | None]


def cases() -> list[Case]:
    drawn: list[Case] = []

    @settings(SETTINGS, max_examples=EXAMPLES, phases=[Phase.explicit, Phase.generate])
    @given(how=st.one_of(plain_create, by_template), changed=change)
    def draw(how: dict[str, Any], changed: tuple[str, Any] | None) -> None:
        drawn.append((how, changed))

    draw()
    return drawn


def test_the_node_sdk_spreads_a_loaded_app_back_into_update(live_server: LiveServer) -> None:
    ensure_installed()
    expected, sent = [], []
    with live_server.client() as client:
        for how, changed in cases():
            created, type_derived = create(client, how)
            with_change, changed = apply(created, changed)
            change = {k: v for k, v in with_change.items() if created.get(k) != v}
            if changed is not None:
                change[changed[0]] = changed[1]
            sent.append({"id": created["id"], "change": change})
            expected.append((created, expected_after(created, type_derived, changed)))
    result = subprocess.run(
        ["node", str(COMPAT_DIR / "node_sdk_round_trip.mjs")],
        cwd=COMPAT_DIR,
        input=json.dumps(
            {
                "baseUrl": live_server.base_url,
                "projectId": live_server.project_id,
                "managementKey": live_server.management_key,
                "cases": sent,
            }
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout)
    assert len(outcomes) == len(expected) >= EXAMPLES // 2
    for case, outcome, (created, after) in zip(sent, outcomes, expected, strict=True):
        for step in ("loaded", "updated", "reloaded"):
            assert outcome[step]["ok"], (case, step, outcome[step])
        assert outcome["loaded"]["data"] == created, case
        assert outcome["updated"]["data"] == outcome["reloaded"]["data"] == after, case
