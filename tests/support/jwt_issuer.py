"""A token issuer the test runs itself: an ES256 key and a JWKS on loopback, for tokens the
real test provider (oidc-provider) cannot make — expired ones, odd claims, an issuer nobody
configured.

    with own_issuer() as issuer:
        token = issuer.token("user-1", aud="my-app", exp=now - 120)
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass
class OwnIssuer:
    issuer: str
    jwks_url: str
    key: ec.EllipticCurvePrivateKey
    kid: str

    def token(self, sub: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": sub, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(payload, self.key, algorithm="ES256", headers={"kid": self.kid})


@contextlib.contextmanager
def own_issuer() -> Iterator[OwnIssuer]:
    key = ec.generate_private_key(ec.SECP256R1())
    kid = "k-" + secrets.token_hex(4)
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "ES256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/jwks" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield OwnIssuer(base, base + "/jwks", key, kid)
    finally:
        server.shutdown()
        server.server_close()
