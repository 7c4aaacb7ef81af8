"""A webhook receiver on loopback that checks every delivery as a real one would: the
signature verified with the ``standardwebhooks`` package against the secrets it was given.

    with WebhookReceiver() as receiver:
        receiver.secrets.append(secret)          # from POST /v1/mgmt/outbound/webhooks
        receiver.wait_for("connection.created")
        receiver.down()  /  receiver.up()        # stop listening (connection refused) / again
        receiver.hold = True                     # take requests in, never answer them
        receiver.drip = True                     # answer a byte a second, never finishing
        receiver.busy_max                        # most requests it held at one time
"""

from __future__ import annotations

import contextlib
import itertools
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.server import free_port


@dataclass(frozen=True)
class Received:
    webhook_id: str
    body: bytes
    event: dict[str, Any]
    signatures: int


class WebhookReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.secrets: list[str] = []
        self.received: list[Received] = []
        # requests whose signature did not verify with any known secret (or lacked headers)
        self.rejected: list[bytes] = []
        self.requests = 0
        self.hold = False
        self.drip = False
        self.busy = 0  # requests taken in and not answered yet
        self.busy_max = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks"

    def __enter__(self) -> WebhookReceiver:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.hold = False
        self.drip = False
        self.down()

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.requests += 1
                    receiver.busy += 1
                    receiver.busy_max = max(receiver.busy_max, receiver.busy)
                try:
                    if receiver.hold:
                        # Taken in but never answered nor processed: the sender sees no 2xx.
                        # Held until released or until the sender hangs up (gives up).
                        while receiver.hold and not self._sender_gone():
                            time.sleep(0.05)
                        self.close_connection = True
                        return
                    if receiver.drip:
                        # The answer's headers a byte a second, never complete: each read
                        # gets a byte well within any per-read timeout.
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Drip: "):
                                if not receiver.drip:
                                    return
                                self.wfile.write(bytes([byte]))
                                self.wfile.flush()
                                time.sleep(1)
                        return
                finally:
                    with receiver._lock:
                        receiver.busy -= 1
                headers = {k.lower(): v for k, v in self.headers.items()}
                event = receiver._verify(body, headers)
                if event is None:
                    self.send_response(400)
                else:
                    self.send_response(204)
                self.end_headers()

            def _sender_gone(self) -> bool:
                readable, _, _ = select.select([self.connection], [], [], 0)
                if not readable:
                    return False
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        for secret in self.secrets:
            try:
                event: dict[str, Any] = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            with self._lock:
                self.received.append(
                    Received(
                        headers["webhook-id"],
                        body,
                        event,
                        len(headers["webhook-signature"].split(" ")),
                    )
                )
            return event
        with self._lock:
            self.rejected.append(body)
        return None

    # -- what tests ask --------------------------------------------------------------------

    def events(self, event_type: str | None = None, **data: Any) -> list[Received]:
        with self._lock:
            found = list(self.received)
        return [
            r
            for r in found
            if (event_type is None or r.event["type"] == event_type)
            and all(r.event["data"].get(k) == v for k, v in data.items())
        ]

    def wait_for(
        self, event_type: str, timeout: float = 20, count: int = 1, **data: Any
    ) -> list[Received]:
        return wait_until(
            lambda: (lambda found: found if len(found) >= count else None)(
                self.events(event_type, **data)
            ),
            timeout,
            f"{count} {event_type} {data} never arrived; got "
            + json.dumps([r.event["type"] for r in self.events()]),
        )


def wait_until(check: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)
