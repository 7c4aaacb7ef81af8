"""A loopback HTTP proxy that forwards requests to a provider and can *lose* its answers.

    with LossyProxy("http://127.0.0.1:9123") as proxy:
        proxy.drop_next(1)        # the next request reaches the provider; its answer does not
        proxy.url + "/token"      # point an app's token URL here

A dropped answer is read from the provider in full (so it has acted on the request), then
the client's connection is closed without a byte of it: what a client sees when a network
path breaks after the request went through.
"""

from __future__ import annotations

import http.server
import socket
import threading
from types import TracebackType

import httpx

from tests.support.server import free_port

_FORWARDED = ("authorization", "content-type", "accept", "dpop")


class LossyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        self.forwarded = 0
        self.dropped = 0
        self._drop = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items() if k.lower() in _FORWARDED}
                answer = httpx.post(
                    proxy.upstream + self.path, content=body, headers=headers, timeout=30
                )
                with proxy._lock:
                    proxy.forwarded += 1
                    drop = proxy._drop > 0
                    if drop:
                        proxy._drop -= 1
                        proxy.dropped += 1
                if drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(answer.status_code)
                for name in ("content-type", "cache-control", "pragma", "www-authenticate"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("content-length", str(len(answer.content)))
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(answer.content)
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop_next(self, count: int) -> None:
        """Lose the provider's answers to the next ``count`` requests."""
        with self._lock:
            self._drop = count

    def __enter__(self) -> LossyProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
