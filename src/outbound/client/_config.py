"""Where a client's settings come from: arguments, then ``OUTBOUND_*``, then ``DESCOPE_*``.

The ``DESCOPE_*`` names are the ones the official Descope SDKs read, so an application
already configured for Descope only has to point ``DESCOPE_BASE_URI`` at its server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..secret import Secret
from ._exceptions import ConfigurationError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "SETTINGS",
    "ClientConfig",
    "Setting",
    "resolve_config",
]

# The timeout contract, the same for Client and AsyncClient: each HTTP request to the server
# (each attempt, when a call is retried) has ``timeout`` seconds from its start to the last
# byte of the answer, connecting included; connecting alone may take ``connect_timeout``.
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Setting:
    argument: str
    env: str
    fallback_env: str
    help: str


SETTINGS = (
    Setting("project_id", "OUTBOUND_PROJECT_ID", "DESCOPE_PROJECT_ID", "the project's id"),
    Setting(
        "management_key",
        "OUTBOUND_MANAGEMENT_KEY",
        "DESCOPE_MANAGEMENT_KEY",
        "a management key of that project (`outbound keys create`)",
    ),
    Setting(
        "base_url",
        "OUTBOUND_BASE_URL",
        "DESCOPE_BASE_URI",
        "where the outbound server listens, e.g. http://127.0.0.1:8080",
    ),
)


@dataclass(frozen=True)
class ClientConfig:
    project_id: str
    management_key: Secret
    base_url: str
    timeout: float
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    def __repr__(self) -> str:
        return (
            f"ClientConfig(project_id={self.project_id!r}, management_key='**********',"
            f" base_url={self.base_url!r}, timeout={self.timeout!r},"
            f" connect_timeout={self.connect_timeout!r})"
        )


def _lookup(setting: Setting, given: str | None, environ: Mapping[str, str]) -> str:
    value = given or environ.get(setting.env) or environ.get(setting.fallback_env)
    if not value:
        raise ConfigurationError(
            f"missing {setting.argument}: pass {setting.argument}= or set {setting.env}"
            f" (or {setting.fallback_env}) to {setting.help}"
        )
    return value


def missing_key() -> ConfigurationError:
    """What a management call made by a client without a management key raises."""
    setting = SETTINGS[1]
    return ConfigurationError(
        f"missing {setting.argument}: pass {setting.argument}= or set {setting.env}"
        f" (or {setting.fallback_env}) to {setting.help}"
    )


def resolve_config(
    project_id: str | None,
    management_key: str | Secret | None,
    base_url: str | None,
    timeout: float | None,
    environ: Mapping[str, str] | None = None,
    *,
    connect_timeout: float | None = None,
) -> ClientConfig:
    """Fill in what the caller did not pass from the environment; name what is missing."""
    env = os.environ if environ is None else environ
    project, key_setting, url = SETTINGS
    key = management_key.reveal() if isinstance(management_key, Secret) else management_key
    resolved_project = _lookup(project, project_id, env)
    # A client without a key can still fetch with users' tokens (outbound_application_by_token);
    # management calls then raise missing_key() (as the official SDK raises on first use).
    resolved_key = Secret(
        key or env.get(key_setting.env) or env.get(key_setting.fallback_env) or ""
    )
    resolved_url = _lookup(url, base_url, env).rstrip("/")
    if not resolved_url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"base_url {resolved_url!r} must start with http:// or https://"
            f" (set {url.env} to the server's address)"
        )
    for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
        if value is not None and value <= 0:
            raise ConfigurationError(f"{name} must be positive, not {value!r}")
    return ClientConfig(
        project_id=resolved_project,
        management_key=resolved_key,
        base_url=resolved_url,
        timeout=DEFAULT_TIMEOUT if timeout is None else float(timeout),
        connect_timeout=(
            DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else float(connect_timeout)
        ),
    )
