"""Server settings: one home, typed, each with help text and an ``OUTBOUND_…`` variable.

Precedence: command-line option → environment variable → default. The README's settings
table is generated from ``SETTINGS`` (a test keeps them in step).

The settings that hold a secret (``SECRET_SETTINGS``: the master key, a database URL with its
password) may instead come from a file named by ``OUTBOUND_…_FILE``: container and
orchestrator secrets, and systemd credentials, are files, and a secret read from a file does
not sit in the process environment, where child processes and crash reports would see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..net.guard import NetworkPolicy
from ..storage import DatabaseURL

__all__ = ["SECRET_SETTINGS", "SETTINGS", "Settings", "secret_from_file"]


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
        " Default: SQLite in the data dir. Or --database-url-file / OUTBOUND_DATABASE_URL_FILE:"
        " a file holding it.",
    )
    master_key: str = _setting(
        "",
        "Base64 (or hex) 32-byte AES-256 key(s), comma-separated, newest first, that seal every"
        " secret at rest. Default on SQLite: a key file generated in the data dir (mode 0600)."
        " Or --master-key-file / OUTBOUND_MASTER_KEY_FILE: a file holding them (a container or"
        " systemd secret). Given on the command line it shows in the process list (a warning"
        " says so).",
    )
    database_wait: float = _setting(
        30.0,
        "Seconds to keep trying (with backoff) to reach a PostgreSQL database that refuses"
        " connections at start, before giving up with an error that names the host and the"
        " reason.",
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
    proxy_timeout: float = _setting(
        30.0,
        "Seconds a proxied call (/v1/outbound/proxy) may take until the provider's answer"
        " starts, retries and their waits included; a streamed answer may then pause this long"
        " between two reads.",
    )
    proxy_max_retry_after: float = _setting(
        10.0,
        "Longest Retry-After (seconds) a proxied call waits out before retrying; a provider"
        " asking for longer has its answer returned at once.",
    )
    failing_after: float = _setting(
        600.0,
        "Seconds a connection's refreshes may keep failing transiently (provider down, slow or"
        " answering 5xx) before the connection.refresh_failing webhook is sent.",
    )
    webhook_retry_base: float = _setting(
        5.0,
        "Seconds before the second attempt of a webhook delivery that failed; each later wait"
        " doubles (capped at an hour, with jitter).",
    )
    webhook_timeout: float = _setting(
        10.0,
        "Seconds one webhook delivery attempt may take in all (name resolution, connection,"
        " TLS and the receiver's answer) before it counts as failed and is retried.",
    )
    webhook_retention: float = _setting(
        604800.0,
        "Seconds a webhook delivery that ended (delivered, or failed and not retried) is kept"
        " — listed with its attempts, retriable by hand — before it is deleted. 0: keep them"
        " all.",
    )
    webhook_retry_for: float = _setting(
        86400.0,
        "Seconds during which a webhook delivery is retried before it is marked failed (and"
        " waits for a manual retry).",
    )
    provider_allow_networks: str = _setting(
        "",
        "Non-public networks (CIDR, comma-separated, e.g. 10.0.0.0/8,fd00::/8) where providers"
        " and session issuers may be, for a provider inside your network (Keycloak, GitLab"
        " self-managed); plain http is allowed only there. Default: public addresses only,"
        " over https: loopback, private, link-local and other internal addresses are refused.",
    )
    webhook_allow_networks: str = _setting(
        "",
        "Non-public networks (CIDR, comma-separated) where webhook receivers may be; plain http"
        " is allowed only there. Separate from --provider-allow-networks: allowing an internal"
        " identity provider must not let key holders aim webhooks at every host of its network."
        " Default: public addresses only, over https.",
    )
    refresh_commit_timeout: float = _setting(
        120.0,
        "Seconds a refresh keeps reading a late provider answer after its caller got E131011"
        " (the token's lease is renewed meanwhile), so a rotated refresh token is kept, not"
        " lost; a graceful shutdown waits this long at most for such refreshes.",
    )
    cors_origins: str = _setting(
        "",
        "Origins (comma-separated, e.g. https://app.example.com) whose pages may call"
        " POST /v1/outbound/oauth/connect from the browser with a session token. Only that"
        " endpoint answers CORS; the management API never does. Default: none.",
    )
    auth_failure_limit: int = _setting(
        100,
        "Failed authentications allowed per minute from one client address, and against one"
        " project; beyond it failures answer 429 E130429 (with Retry-After) instead of 401."
        " Requests that authenticate are never limited by it. 0: off.",
    )
    key_rate_limit: float = _setting(
        0.0,
        "Requests per second allowed per management key (bursts of as many); beyond it 429"
        " E130429 with Retry-After. 0: no limit.",
    )
    connect_pending_per_user: int = _setting(
        10,
        "Connect links in progress (not yet used up and not expired) allowed per user, or per"
        " tenant for tenant-level links; more answer 429 E130429 with Retry-After. 0: no cap.",
    )
    connect_pending_per_project: int = _setting(
        1000,
        "Connect links in progress allowed per project; more answer 429 E130429. 0: no cap.",
    )
    allowed_hosts: str = _setting(
        "",
        "More host names (comma-separated) to answer besides the --public-url host and the"
        " loopback names (localhost, 127.0.0.1, ::1); * answers any Host header (behind a proxy"
        " that checks it). Requests naming another host get 421. Default: none.",
    )
    header_timeout: float = _setting(
        10.0,
        "Seconds a client has, once connected (or once its next request began), to send a"
        " request's headers; then the connection is closed. Bounds idle and slow-drip"
        " connections.",
    )
    body_timeout: float = _setting(
        10.0,
        "Seconds a client has, once a request's headers are in, to send its body (plus one"
        " second per --body-min-rate bytes received); then 408 and the connection is closed."
        " Bounds slow-drip request bodies. 0: no limit.",
    )
    body_min_rate: float = _setting(
        1024.0,
        "Bytes per second a request body must keep up, on average, after its first"
        " --body-timeout seconds: a large body sent at least this fast always gets through.",
    )
    max_connections_per_client: int = _setting(
        256,
        "Connections one client address may hold open at once; more are refused with 429 E130429."
        " Behind a reverse proxy every connection comes from the proxy's address: raise it"
        " above the proxy's connection pool, or 0 for no limit.",
    )
    keep_alive_timeout: int = _setting(
        5, "Seconds an idle keep-alive connection stays open between requests."
    )
    max_header_bytes: int = _setting(
        32 * 1024,
        "Largest request line plus headers, in bytes (and at most 100 header fields); larger"
        " requests get 431.",
    )
    max_connections: int = _setting(
        2048,
        "Connections (and requests in progress) served at once; beyond it new requests get 503."
        " 0: no limit.",
    )
    log_level: str = _setting("info", "Log level: debug, info, warning or error.")
    log_format: str = _setting(
        "text",
        "Log format: text, or json (one object a line, plus one line per request with its"
        " request id, route, status, duration, project and key id; never a secret).",
    )
    metrics_host: str = _setting(
        "127.0.0.1",
        "Interface the --metrics-port listener binds, separate from --host: a server that"
        " listens on every interface does not publish its metrics with it. Set it (e.g. to the"
        " address your Prometheus scrapes) to expose them.",
    )
    metrics_port: int = _setting(
        0,
        "Serve Prometheus metrics at /metrics on this port, a listener of its own on the"
        " --metrics-host interface (each server process its own). 0: off.",
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
    audit_checkpoint_interval: float = _setting(
        3600.0,
        "Seconds between audit checkpoints: each project's chain position {seq, hash}, when it"
        " moved, logged and sent as an audit.checkpoint webhook event, for `outbound audit"
        " verify --expect SEQ:HASH`. 0: none.",
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

    def check(self) -> None:
        """Refuse settings that would start a broken server: ValueError, one line, naming the
        option. Checked before anything is created (no project, no key, no data dir)."""
        if self.public_url:
            _check_public_url(self.public_url)
        self.database  # noqa: B018 - parses the URL: ValueError for an unsupported one
        self.network_policy  # noqa: B018 - ValueError naming a malformed network
        self.webhook_network_policy  # noqa: B018
        for origin in filter(None, (o.strip() for o in self.cors_origins.split(","))):
            if not _is_origin(origin):
                raise ValueError(
                    f"--cors-origins: {origin!r} is not an origin (scheme://host[:port],"
                    " e.g. https://app.example.com)"
                )

    @property
    def network_policy(self) -> NetworkPolicy:
        """Where provider calls may go; ValueError naming a malformed network."""
        return NetworkPolicy.parse(self.provider_allow_networks)

    @property
    def webhook_network_policy(self) -> NetworkPolicy:
        """Where webhook deliveries may go; ValueError naming a malformed network."""
        return NetworkPolicy.parse(self.webhook_allow_networks, "--webhook-allow-networks")

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


def _check_public_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"--public-url must be an absolute http(s) URL such as https://vault.example.com"
            f" (got {url!r})"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"--public-url takes a scheme, host, port and path only, no credentials, query or"
            f" fragment (got {url!r})"
        )
    try:
        parts.port  # noqa: B018 - ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError(f"--public-url has an invalid port (got {url!r})") from None


def _is_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    try:
        parts.port  # noqa: B018
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment or parts.username)
    )


def env_name(setting: str) -> str:
    return "OUTBOUND_" + setting.upper()


# Settings that hold a secret: each may be read from the file OUTBOUND_<NAME>_FILE names.
SECRET_SETTINGS = ("database_url", "master_key")


def secret_from_file(setting: str, environ: Mapping[str, str]) -> str | None:
    """The value of ``setting`` read from the file its ``OUTBOUND_…_FILE`` variable names,
    without surrounding whitespace (secret files usually end with a newline); None when that
    variable is unset. ValueError (saying what to fix, never the value) when the variable and
    ``OUTBOUND_…`` are both set, or the file cannot be read or is empty."""
    variable = env_name(setting) + "_FILE"
    path = environ.get(variable)
    if not path:
        return None
    if environ.get(env_name(setting)):
        raise ValueError(f"set {env_name(setting)} or {variable}, not both")
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    if not value:
        raise ValueError(f"{variable}: {path} is empty")
    return value
