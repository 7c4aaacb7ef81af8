"""A client generated from /openapi.json by openapi-python-client (a maintained generator
users would pick for Python) creates an app, uploads a token and fetches it from a live
server.

The generator lives in a venv of its own (``.openapi-client``, made by scripts/test): it pins
a ruff of its own, other than ours. The generated client runs there too (it needs httpx and
attrs, nothing of outbound).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from tests.support.server import LiveServer

ROOT = Path(__file__).parent.parent.parent
VENV = ROOT / ".openapi-client"
GENERATOR = VENV / "bin" / "openapi-python-client"

# Runs in the generator's venv, with only the generated package on its path.
STEPS = """
import json, sys
from outbound_client import AuthenticatedClient
from outbound_client.api.apps import create_app
from outbound_client.api.tokens import fetch_user_token, fetch_user_token_by_scopes
from outbound_client.api.uploads import upload_user_token
from outbound_client.models import (
    AppAnswer, CreateAppBody, Empty, FetchUserTokenBody, FetchUserTokenByScopesBody,
    TokenAnswer, UploadUserTokenBody,
)

base_url, credentials, access_token = sys.argv[1:4]
client = AuthenticatedClient(base_url=base_url, token=credentials, raise_on_unexpected_status=True)
app = create_app.sync(client=client, body=CreateAppBody(id="gen-app", name="Generated client"))
assert isinstance(app, AppAnswer), app
uploaded = upload_user_token.sync(
    client=client,
    body=UploadUserTokenBody(
        app_id="gen-app", user_id="user-id", access_token=access_token,
        access_token_expiry=4102444800, scopes=["read", "write"],
    ),
)
assert isinstance(uploaded, Empty), uploaded
latest = fetch_user_token.sync(
    client=client, body=FetchUserTokenBody(app_id="gen-app", user_id="user-id")
)
by_scopes = fetch_user_token_by_scopes.sync(
    client=client,
    body=FetchUserTokenByScopesBody(app_id="gen-app", user_id="user-id", scopes=["read"]),
)
missing = fetch_user_token.sync(
    client=client, body=FetchUserTokenBody(app_id="gen-app", user_id="nobody")
)
assert isinstance(latest, TokenAnswer) and isinstance(by_scopes, TokenAnswer)
print(json.dumps({
    "appId": app.app.id,
    "latest": latest.token.to_dict(),
    "byScopes": by_scopes.token.access_token,
    "missing": missing.to_dict(),
}))
"""


def test_generated_client_fetches_a_token(live_server: LiveServer, tmp_path: Path) -> None:
    assert GENERATOR.exists(), "run ./scripts/test once: it installs openapi-python-client"
    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(live_server.base_url + "/openapi.json", timeout=10).content)
    env = {**os.environ, "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    generated = subprocess.run(
        [
            *(str(GENERATOR), "generate", "--path", str(spec), "--meta", "none"),
            *("--output-path", str(tmp_path / "outbound_client")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # Every operation made it into the client (the generator skips what it cannot read).
    assert "will not be generated" not in generated.stdout + generated.stderr, generated.stdout
    secret = "generated-client-access-token"
    ran = subprocess.run(
        [
            *(str(VENV / "bin" / "python"), "-c", STEPS, live_server.base_url),
            *(f"{live_server.project_id}:{live_server.management_key}", secret),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PYTHONPATH": str(tmp_path)},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads(ran.stdout)
    assert result["appId"] == "gen-app"
    assert result["latest"]["accessToken"] == secret
    assert result["latest"]["token"] == secret
    assert result["latest"]["scopes"] == ["read", "write"]
    assert result["byScopes"] == secret
    # a 404 is parsed into the error shape with its code
    assert result["missing"]["errorCode"] == "E111504"
