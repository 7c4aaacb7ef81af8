"""A provider we cannot run, as an httpx.MockTransport handler that records every request:
the quirk tests of the engine (tests/oauth) and of the catalog's templates (tests/catalog);
``served`` puts one on real HTTP for servers in containers (tests/image)."""

from __future__ import annotations

import base64
import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl

import httpx

from outbound.oauth import OAuthClient

Handler = Callable[[httpx.Request], httpx.Response]


class MockProvider:
    """Answers each request with ``answer`` (a response, or a handler called with the
    request) and keeps the requests."""

    def __init__(self, answer: httpx.Response | Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, httpx.Response):
            return self.answer
        return self.answer(request)

    def client(self) -> OAuthClient:
        """The engine, talking to this provider only."""
        return OAuthClient(httpx.AsyncClient(transport=httpx.MockTransport(self)))

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def form(self) -> dict[str, str]:
        """The last request's form fields."""
        return dict(parse_qsl(self.last.content.decode()))

    def basic_auth(self) -> tuple[str, str]:
        """The client id and secret of the last request's Basic authorization."""
        user, _, password = (
            base64.b64decode(self.last.headers["authorization"].removeprefix("Basic "))
            .decode()
            .partition(":")
        )
        return user, password


@contextlib.contextmanager
def served(provider: MockProvider) -> Iterator[str]:
    """``provider`` over real HTTP on loopback, for servers in other processes or containers
    (host network); yields its base URL. Requests are answered on threads, as they come."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = httpx.Request(
                self.command,
                f"http://{self.headers.get('Host', 'localhost')}{self.path}",
                headers=list(self.headers.items()),
                content=body,
            )
            response = provider(request)
            response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass  # the requests are kept on the provider; no output

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
