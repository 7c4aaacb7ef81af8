"""deploy/compose.yaml: two outbound servers and PostgreSQL, the secrets as files, the servers
on a read-only root; every variable it sets is a real setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from outbound.server.config import SECRET_SETTINGS, SETTINGS, env_name

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # merges the x-outbound anchor
    return loaded


def test_two_servers_share_one_postgres() -> None:
    services = compose()["services"]
    servers = {name: s for name, s in services.items() if name.startswith("outbound")}
    assert len(servers) == 2
    assert "postgres" in services
    ports = [port for s in servers.values() for port in s["ports"]]
    assert len(set(ports)) == 2 and all(p.startswith("127.0.0.1:") for p in ports)
    for server in servers.values():
        assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert server["read_only"] is True
        assert server["stop_grace_period"] == "150s"


def test_the_secrets_are_files_and_the_variables_real_settings() -> None:
    loaded = compose()
    known = {env_name(name) for name in SETTINGS}
    known |= {env_name(name) + "_FILE" for name in SECRET_SETTINGS}
    for name, service in loaded["services"].items():
        if not name.startswith("outbound"):
            continue
        env = service["environment"]
        assert set(env) <= known, set(env) - known
        assert "OUTBOUND_MASTER_KEY" not in env and "OUTBOUND_DATABASE_URL" not in env
        for variable in ("OUTBOUND_MASTER_KEY_FILE", "OUTBOUND_DATABASE_URL_FILE"):
            secret = env[variable].removeprefix("/run/secrets/")
            assert secret in service["secrets"]
            assert "file" in loaded["secrets"][secret]
        assert "/run/secrets" in service["tmpfs"]
    postgres = loaded["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
