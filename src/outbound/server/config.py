"""Server settings: one home, typed, each with help text and an ``OUTBOUND_…`` variable.

Precedence: command-line option → environment variable → default. The README's settings
table is generated from ``SETTINGS`` (a test keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..storage import DatabaseURL

__all__ = ["SETTINGS", "Settings"]


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class Settings:
    data_dir: Path = _setting(  # noqa: RUF009 - _setting builds a dataclasses.field
        Path(".outbound"),
        "Directory for the embedded SQLite database and the generated master key file.",
    )
    host: str = _setting("127.0.0.1", "Interface to listen on.")
    port: int = _setting(8080, "TCP port to listen on.")
    public_url: str = _setting(
        "",
        "URL at which browsers and providers reach this server (builds the OAuth callback URL"
        " to register at providers). Default: http://HOST:PORT.",
    )
    database_url: str = _setting(
        "",
        "postgresql://… to share one PostgreSQL database between several servers."
        " Default: SQLite in the data dir.",
    )
    master_key: str = _setting(
        "",
        "Base64 (or hex) 32-byte AES-256 key(s), comma-separated, newest first, that seal every"
        " secret at rest. Default on SQLite: a key file generated in the data dir (mode 0600).",
    )
    refresh_margin: int = _setting(
        300, "Seconds before expiry at which a fetched access token is refreshed first."
    )
    refresh_ahead: int = _setting(
        0,
        "Refresh access tokens in the background when they expire within this many seconds"
        " (servers sharing a database split the work; each token is refreshed once). 0: off,"
        " tokens are refreshed when fetched.",
    )
    refresh_ahead_interval: float = _setting(
        0.0,
        "Seconds between background refresh rounds. 0: a quarter of --refresh-ahead, at least 5"
        " (300 when only --refresh-idle-days is set).",
    )
    refresh_idle_days: int = _setting(
        0,
        "Also refresh, in the background rounds, tokens not refreshed for this many days, so"
        " refresh tokens that lapse when unused (Microsoft: 90 days, Google: 6 months) stay"
        " alive. 0: off.",
    )
    provider_timeout: float = _setting(
        10.0,
        "Seconds a call to a provider (discovery, code exchange, refresh, revocation) may take"
        " before it counts as a transient failure.",
    )
    cors_origins: str = _setting(
        "",
        "Origins (comma-separated, e.g. https://app.example.com) whose pages may call"
        " POST /v1/outbound/oauth/connect from the browser with a session token. Only that"
        " endpoint answers CORS; the management API never does. Default: none.",
    )
    log_level: str = _setting("info", "Log level: debug, info, warning or error.")
    log_format: str = _setting(
        "text",
        "Log format: text, or json (one object a line, plus one line per request with its"
        " request id, route, status, duration, project and key id; never a secret).",
    )
    metrics_port: int = _setting(
        0,
        "Serve Prometheus metrics at /metrics on this port, a listener of its own on the"
        " --host interface (each server process its own). 0: off.",
    )
    audit_retention_days: int = _setting(
        90,
        "Days audit events are kept; older ones are pruned hourly, leaving a signed anchor so"
        " the rest still verifies. 0: keep forever.",
    )
    audit_fetches: bool = _setting(
        True,
        "Record every token fetch in the audit log (changes are always recorded).",
    )
    audit_flush_interval: float = _setting(
        1.0,
        "Seconds fetch audit events are batched before they are written: a server killed"
        " with -9 loses at most this long of fetch events. 0: each is written before the fetch"
        " is answered.",
    )

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def database(self) -> DatabaseURL:
        if self.database_url:
            return DatabaseURL.parse(self.database_url)
        return DatabaseURL.sqlite_in(self.data_dir)

    def __repr__(self) -> str:
        # The master key and a database password must never print.
        return (
            f"Settings(data_dir={str(self.data_dir)!r}, host={self.host!r}, port={self.port},"
            f" public_url={self.public_url!r}, database_url={str(self.database)!r},"
            f" master_key={'****' if self.master_key else ''!r})"
        )


SETTINGS = {f.name: f for f in fields(Settings)}


def env_name(setting: str) -> str:
    return "OUTBOUND_" + setting.upper()
