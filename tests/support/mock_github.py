"""GitHub's App endpoints as GitHub documents them, on loopback, for tests (we cannot run
GitHub): ``GET /app/installations/{id}`` and ``POST /app/installations/{id}/access_tokens``.

Every request's JWT is checked as GitHub's "Generating a JSON Web Token (JWT) for a GitHub App"
says (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/
generating-a-json-web-token-jwt-for-a-github-app): signed RS256 (the header's ``alg``, and the
signature against the app's public key), ``iss`` the app's client id or app id, ``iat`` not in
the future (GitHub recommends 60 s in the past against drift), ``exp`` no more than 10 minutes
into the future — and here also no more than 10 minutes after ``iat`` — and not passed. A JWT
failing any of these gets 401 and is recorded in ``refused`` with the reason. An installation
of another app is 404, as on GitHub.

    with MockGitHub() as github:
        app = github.add_app()                    # app id, client id, private key PEM
        installation = github.install(app, "acme-org")
        github.token_url      # …/app/installations/{installation_id}/access_tokens
"""

from __future__ import annotations

import http.server
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.server import free_port

MAX_JWT_LIFETIME = 600


@dataclass
class GitHubApp:
    app_id: str
    client_id: str
    private_key_pem: str
    public_key: Any


@dataclass
class Minted:
    installation_id: str
    token: str
    expires_at: int
    jwt_claims: dict[str, Any]


@dataclass
class MockGitHub:
    # how long installation tokens live (GitHub: one hour)
    token_lifetime: int = 3600
    port: int = 0
    apps: dict[str, GitHubApp] = field(default_factory=dict)
    # installation id -> (app id, account login)
    installations: dict[str, tuple[str, str]] = field(default_factory=dict)
    minted: list[Minted] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return self.base_url + "/app/installations/{installation_id}/access_tokens"

    # -- set-up -----------------------------------------------------------------------------

    def add_app(self, key_size: int = 2048) -> GitHubApp:
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # GitHub's "BEGIN RSA PRIVATE KEY"
            serialization.NoEncryption(),
        ).decode()
        app = GitHubApp(
            app_id=str(100000 + len(self.apps) + secrets.randbelow(800000)),
            client_id="Iv23li" + secrets.token_hex(5),
            private_key_pem=pem,
            public_key=key.public_key(),
        )
        self.apps[app.app_id] = app
        return app

    def install(self, app: GitHubApp, account: str) -> str:
        installation_id = str(10_000_000 + secrets.randbelow(80_000_000))
        self.installations[installation_id] = (app.app_id, account)
        return installation_id

    def uninstall(self, installation_id: str) -> None:
        self.installations.pop(installation_id, None)

    def mints(self, installation_id: str) -> list[Minted]:
        with self._lock:
            return [m for m in self.minted if m.installation_id == installation_id]

    def is_valid(self, token: str, at: float | None = None) -> bool:
        """Whether GitHub would still accept this installation token."""
        at = time.time() if at is None else at
        with self._lock:
            return any(m.token == token and m.expires_at > at for m in self.minted)

    # -- checking a JWT as GitHub documents ------------------------------------------------

    def _app_for(self, authorization: str) -> tuple[GitHubApp, dict[str, Any]]:
        if not authorization.startswith("Bearer "):
            raise PermissionError("a JWT goes in 'Authorization: Bearer'")
        token = authorization.removeprefix("Bearer ")
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            raise PermissionError(f"alg {header.get('alg')!r}, not RS256")
        unverified = jwt.decode(token, options={"verify_signature": False})
        issuer = str(unverified.get("iss", ""))
        app = next(
            (a for a in self.apps.values() if issuer in (a.app_id, a.client_id)),
            None,
        )
        if app is None:
            raise PermissionError(f"iss {issuer!r} is no app's id or client id")
        claims: dict[str, Any] = jwt.decode(
            token,
            app.public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False},
        )
        now = time.time()
        iat, exp = claims["iat"], claims["exp"]
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise PermissionError("iat and exp are integers (seconds)")
        if iat > now + 1:
            raise PermissionError("iat is in the future")
        if exp <= now:
            raise PermissionError("exp has passed")
        if exp > now + MAX_JWT_LIFETIME:
            raise PermissionError("exp is more than 10 minutes into the future")
        if exp - iat > MAX_JWT_LIFETIME:
            raise PermissionError("exp is more than 10 minutes after iat")
        return app, claims

    # -- serving ----------------------------------------------------------------------------

    def _handle(self, method: str, path: str, headers: Any) -> tuple[int, dict[str, Any]]:
        try:
            app, claims = self._app_for(headers.get("Authorization", ""))
        except (PermissionError, jwt.PyJWTError) as exc:
            with self._lock:
                self.refused.append(str(exc))
            return 401, {"message": "A JSON web token could not be decoded"}
        if headers.get("Accept") != "application/vnd.github+json":
            return 415, {"message": "Accept application/vnd.github+json"}
        match = re.fullmatch(r"/app/installations/([0-9]+)(/access_tokens)?", path)
        if match is None:
            return 404, {"message": "Not Found"}
        installation_id, minting = match.group(1), bool(match.group(2))
        owner = self.installations.get(installation_id)
        if owner is None or owner[0] != app.app_id:
            return 404, {"message": "Not Found"}
        if minting and method == "POST":
            expires_at = int(time.time()) + self.token_lifetime
            token = "ghs_" + secrets.token_urlsafe(27)
            with self._lock:
                self.minted.append(Minted(installation_id, token, expires_at, claims))
            return 201, {
                "token": token,
                "expires_at": datetime.fromtimestamp(expires_at, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "permissions": {"contents": "read", "metadata": "read"},
                "repository_selection": "all",
            }
        if not minting and method == "GET":
            with self._lock:
                self.lookups.append(installation_id)
            return 200, {
                "id": int(installation_id),
                "client_id": app.client_id,
                "app_id": int(app.app_id),
                "account": {"login": owner[1], "type": "Organization"},
                "target_type": "Organization",
            }
        return 404, {"message": "Not Found"}

    def __enter__(self) -> MockGitHub:
        self.port = self.port or free_port()
        github = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, payload = github._handle(self.command, self.path, self.headers)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
