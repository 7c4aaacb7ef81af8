"""A small authorization server on loopback that records every request: an honest provider
whose metadata can change under the vault, or a host an attacker controls.

    with RecordingProvider() as provider:
        provider.discovery_url              # RFC 8414 metadata of this server
        provider.resource_url               # a protected resource (RFC 9728) it vouches for
        provider.token_endpoint = other.url + "/token"   # its metadata now points elsewhere
        provider.authorization_server = other.url        # so does its resource metadata
        provider.carrying(secret)           # the requests that carried ``secret``

Its token endpoint answers every grant with a new access token; its revocation endpoint
answers 200. It speaks plain http: the vault reaches it because tests allow loopback.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote_plus

from tests.support.server import free_port

AS_METADATA = "/.well-known/oauth-authorization-server"
RESOURCE_METADATA = "/.well-known/oauth-protected-resource"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        """Everything a secret could ride in: the body (form-decoded too) and the headers,
        Basic credentials decoded."""
        parts = [self.body.decode("latin-1"), unquote_plus(self.body.decode("latin-1"))]
        for name, value in self.headers.items():
            parts.append(value)
            if name == "authorization" and value.startswith("Basic "):
                decoded = base64.b64decode(value.removeprefix("Basic ")).decode("latin-1")
                parts += [decoded, unquote_plus(decoded)]
        return "\n".join(parts)


class RecordingProvider:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # what the metadata names; None: this server's own endpoints
        self.token_endpoint: str | None = None
        self.revocation_endpoint: str | None = None
        self.authorization_server: str | None = None
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def discovery_url(self) -> str:
        return self.url + AS_METADATA

    @property
    def resource_url(self) -> str:
        return self.url + "/mcp"

    def carrying(self, secret: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if secret in r.text()]

    def posts(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.token_endpoint or self.url + "/token",
            "revocation_endpoint": self.revocation_endpoint or self.url + "/revoke",
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "response_types_supported": ["code"],
        }

    def __enter__(self) -> RecordingProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> Recorded:
                length = int(self.headers.get("content-length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with provider._lock:
                    provider.requests.append(recorded)
                return recorded

            def _json(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._record()
                path = self.path.split("?", 1)[0]
                if path == AS_METADATA:
                    self._json(200, provider.metadata())
                elif path.startswith(RESOURCE_METADATA):
                    resource = provider.url + (path.removeprefix(RESOURCE_METADATA) or "")
                    servers = [provider.authorization_server or provider.url]
                    self._json(200, {"resource": resource, "authorization_servers": servers})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                self._record()
                path = self.path.split("?", 1)[0]
                if path == "/token":
                    self._json(
                        200,
                        {
                            "access_token": "at-" + secrets.token_hex(8),
                            "token_type": "Bearer",
                            "expires_in": 3600,
                        },
                    )
                elif path == "/revoke":
                    self._json(200, {})
                else:
                    self._json(404, {"error": "not_found"})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
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
            self._server = None
