"""Pages of another site, for cross-site attacks in a real browser.

    with OtherSite() as site:
        url = site.page("/prize", "<form method=post action=…>…</form>")
        browser.goto(url)

It listens on 127.0.0.1 but hands out ``http://localhost:PORT/…`` URLs: to a browser,
``localhost`` and ``127.0.0.1`` (where the test servers are reached) are different sites, so
its pages' requests to the server are cross-site (``Sec-Fetch-Site: cross-site``).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class OtherSite:
    def __init__(self) -> None:
        self._pages: dict[str, bytes] = {}
        pages = self._pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://localhost:{self._server.server_address[1]}"

    def page(self, path: str, html: str) -> str:
        """Serve ``html`` at ``path``; its URL."""
        self._pages[path] = f"<!doctype html><html><body>{html}</body></html>".encode()
        return self.origin + path

    def __enter__(self) -> OtherSite:
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
