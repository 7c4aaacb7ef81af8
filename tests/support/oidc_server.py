"""A real OpenID Connect authorization server for tests: npm ``oidc-provider`` on loopback.

    with OidcServer(redirect_uris=["http://127.0.0.1:8000/cb"]) as idp:
        config = idp.provider_config()          # discovery URL + the registered client
        idp.fault("hang", seconds=5)            # the token endpoint stops answering
        idp.grants()["success"]["refresh_token"]

The admin helpers talk to ``/__admin`` endpoints that ``oidc/provider.mjs`` adds in front
of the provider's own routes; everything else is oidc-provider as published.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from outbound.oauth import ProviderConfig
from outbound.secret import Secret
from tests.support.processes import stop, wait_until_up
from tests.support.server import free_port

OIDC_DIR = Path(__file__).parent / "oidc"


def ensure_installed() -> None:
    """Run ``oidc/install.sh`` unless chromium and the npm packages are already there."""
    lock = OIDC_DIR / "package-lock.json"
    installed = OIDC_DIR / "node_modules" / ".package-lock.json"
    fresh = installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime
    if fresh and shutil.which("chromium"):
        return
    subprocess.run(["sh", str(OIDC_DIR / "install.sh")], check=True, timeout=600)


@dataclass(frozen=True)
class OidcClient:
    """A client registered at the test provider; the secret is generated per test run."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str = "client_secret_basic"
    # other client metadata (grant_types, response_types, scope), over the defaults
    more: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def generate(cls, redirect_uris: list[str], **kwargs: Any) -> OidcClient:
        return cls(
            client_id="client-" + secrets.token_hex(4),
            client_secret=secrets.token_urlsafe(32),
            redirect_uris=tuple(redirect_uris),
            **kwargs,
        )

    def metadata(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            **dict(self.more),
        }


@dataclass
class OidcServer:
    """Starts ``node oidc/provider.mjs`` on a free loopback port; stops it on exit."""

    redirect_uris: list[str] = field(default_factory=lambda: ["http://127.0.0.1:9/cb"])
    access_token_ttl: int = 3600
    # Seconds a used refresh token is accepted again (0: reuse revokes the grant).
    refresh_reuse_grace: float = 0
    port: int = 0
    # open dynamic client registration (RFC 7591/7592) at /reg
    registration: bool = False
    # RFC 8707 resource servers ({"resource": url, "scope": "a b"}): JWT access tokens
    resources: list[dict[str, str]] = field(default_factory=list)
    client: OidcClient = field(init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_path: Path | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.client = OidcClient.generate(self.redirect_uris)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> OidcServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        ensure_installed()
        log_fd, log_name = tempfile.mkstemp(prefix="oidc-provider-", suffix=".log")
        self._log_path = Path(log_name)
        env = {
            **os.environ,
            "OIDC_CLIENTS": json.dumps([self.client.metadata()]),
            "OIDC_ACCESS_TTL": str(self.access_token_ttl),
            "OIDC_REGISTRATION": "1" if self.registration else "",
            "OIDC_RESOURCES": json.dumps(self.resources),
            "OIDC_REFRESH_REUSE_GRACE": str(self.refresh_reuse_grace),
        }
        self._process = subprocess.Popen(
            ["node", str(OIDC_DIR / "provider.mjs"), "--port", str(self.port)],
            cwd=OIDC_DIR,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            env=env,
        )
        os.close(log_fd)
        try:
            wait_until_up(self.discovery_url, self._process, "oidc-provider", log=self.log)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None:
            stop(self._process, timeout=5)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def log(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path else ""

    # -- what tests use -----------------------------------------------------------------

    def provider_config(self, client: OidcClient | None = None, **overrides: Any) -> ProviderConfig:
        client = client or self.client
        fields: dict[str, Any] = {
            "client_id": client.client_id,
            "client_secret": Secret(client.client_secret),
            "discovery_url": self.discovery_url,
            "default_scopes": ("openid", "email", "read"),
        }
        return ProviderConfig(**{**fields, **overrides})

    def add_machine_client(self, scope: str = "read write") -> OidcClient:
        """Register a client that may use only the client-credentials grant (RFC 6749 §4.4)
        for ``scope``."""
        return self.add_client(
            [],
            more=(
                ("grant_types", ["client_credentials"]),
                ("response_types", []),
                ("scope", scope),
            ),
        )

    def add_client(self, redirect_uris: list[str], **kwargs: Any) -> OidcClient:
        """Register another client at runtime (e.g. once the callback's port is known)."""
        client = OidcClient.generate(redirect_uris, **kwargs)
        self._admin("POST", "/__admin/clients", client.metadata())
        return client

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def registrations(self) -> int:
        """How many clients registered themselves (RFC 7591) since the start."""
        return int(self._admin("GET", "/__admin/registrations")["count"])

    def forget_client(self, client_id: str) -> None:
        """Drop a client, as a server that expired a dynamic registration would."""
        self._admin("POST", "/__admin/forget-client", {"client_id": client_id})

    def client_exists(self, client_id: str) -> bool:
        """Whether the provider still knows this (dynamically registered) client."""
        return bool(
            self._admin("POST", "/__admin/client-exists", {"client_id": client_id})["exists"]
        )

    def client_secret(self, client_id: str) -> str | None:
        """The secret the provider issued to a (dynamically registered) client."""
        found = self._admin("POST", "/__admin/client-secret", {"client_id": client_id})
        return found["secret"] if isinstance(found["secret"], str) else None

    def grants(self) -> dict[str, Any]:
        """``{"tokenRequests": n, "success": {grant_type: n}, "error": {grant_type: n}}``:
        what reached the token endpoint since the start or the last :meth:`reset`."""
        result: dict[str, Any] = self._admin("GET", "/__admin/grants")
        return result

    def refreshes(self) -> dict[str, list[float]]:
        """``{sub: [epoch seconds of each successful refresh_token grant]}`` since the start or
        the last :meth:`reset`, in order."""
        result: dict[str, list[int]] = self._admin("GET", "/__admin/refreshes")
        return {sub: [ms / 1000 for ms in times] for sub, times in result.items()}

    def successful_grants(self, grant_type: str) -> int:
        return int(self.grants()["success"].get(grant_type, 0))

    @property
    def pid(self) -> int:
        """The provider's process id (tests stop and resume it with signals)."""
        assert self._process is not None
        return self._process.pid

    def set_refresh_reuse_grace(self, seconds: float) -> None:
        """Accept a used refresh token again for ``seconds`` after its use (until reset)."""
        self._admin("POST", "/__admin/refresh-reuse-grace", {"seconds": seconds})

    def withhold_refresh_tokens(self, withhold: bool = True) -> None:
        """Answer code exchanges without a refresh token (as many providers do when a user
        consents again) until called with False or reset."""
        self._admin("POST", "/__admin/issue-refresh-tokens-on-exchange", {"issue": not withhold})

    def reset(self) -> None:
        """Zero the counters, end any fault and restore the start's reuse grace and refresh
        tokens."""
        self._admin("POST", "/__admin/reset", {})

    def fault(
        self,
        mode: str,
        *,
        seconds: float = 3600,
        status: int = 503,
        retry_after: int | None = None,
        size: int = 2 * 1024 * 1024,
        body: str | None = None,
        content_type: str | None = None,
    ) -> None:
        """Break the token endpoint for ``seconds``: ``hang`` (no answer until then),
        ``delay`` (requests received meanwhile are held until then, then answered as
        usual), ``status`` (answer ``status`` with an HTML page, or ``body`` of
        ``content_type``) or ``oversize`` (a JSON body of ``size`` bytes). ``heal()`` ends it
        early."""
        request: dict[str, Any] = {
            "mode": mode,
            "seconds": seconds,
            "status": status,
            "bytes": size,
        }
        if retry_after is not None:
            request["retryAfter"] = retry_after
        if body is not None:
            request["body"] = body
            request["contentType"] = content_type or "text/html"
        self._admin("POST", "/__admin/fault", request)

    def set_cookie(self, cookie: str | None) -> None:
        """Answer every request with ``Set-Cookie: <cookie>; Path=/`` (None: stop)."""
        self._admin("POST", "/__admin/cookie", {"cookie": cookie})

    def cookies_seen(self) -> list[dict[str, str]]:
        """Every request that carried a Cookie header since the last :meth:`reset`:
        ``{"path", "userAgent", "authorization", "cookie"}``."""
        seen: list[dict[str, str]] = self._admin("GET", "/__admin/cookies")["seen"]
        return seen

    def heal(self) -> None:
        self._admin("POST", "/__admin/fault", {"mode": "none"})

    def set_access_token_ttl(self, seconds: int) -> None:
        self._admin("POST", "/__admin/ttl", {"accessToken": seconds})

    def issue_refresh_tokens(
        self, client: OidcClient, subs: list[str], scope: str = "openid email read"
    ) -> dict[str, str]:
        """A grant for each user ``sub`` as if each had consented to ``client`` before: one
        refresh token each, ``{sub: refresh_token}`` (tests that need hundreds of users)."""
        body = {"client_id": client.client_id, "subs": subs, "scope": scope}
        result: dict[str, str] = self._admin("POST", "/__admin/issue-refresh-tokens", body)[
            "refreshTokens"
        ]
        return result

    def revoke_account(self, sub: str) -> int:
        """Withdraw every consent (grant) of user ``sub``, with its tokens; returns how many."""
        return int(self._admin("POST", "/__admin/revoke-account", {"sub": sub})["revoked"])

    def is_active(self, token: str) -> bool:
        """Whether the provider would still accept this access or refresh token."""
        return bool(self._admin("POST", "/__admin/active", {"token": token})["active"])

    def introspect(self, token: str, client: OidcClient | None = None) -> dict[str, Any]:
        """Ask the provider's own RFC 7662 introspection endpoint, as a resource server would."""
        client = client or self.client
        response = httpx.post(
            f"{self.issuer}/token/introspection",
            data={"token": token},
            auth=(client.client_id, client.client_secret),
            timeout=10,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, self.issuer + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()
