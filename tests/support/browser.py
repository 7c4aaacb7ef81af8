"""A real headless browser for tests, and a loopback server to catch where it lands.

    with CallbackCatcher() as catcher:
        final = drive_consent(authorize_url, stop_at=catcher.url)   # logs in, approves
        params = catcher.wait().params                                # the callback's query

:func:`drive_consent` runs ``oidc/browser.mjs``: playwright-core driving Debian's
``/usr/bin/chromium`` through the test provider's login and consent pages.
"""

from __future__ import annotations

import html
import json
import queue
import re
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.support.oidc_server import OIDC_DIR, ensure_installed


class BrowserError(RuntimeError):
    pass


def drive_consent(
    url: str,
    *,
    stop_at: str,
    login: str = "alice",
    password: str = "correct-horse",
    approve: bool = True,
    timeout: float = 30.0,
) -> str:
    """Open ``url`` in headless chromium, sign in as ``login``, approve (or decline) the
    consent page, and return the first URL the browser is sent to that starts with
    ``stop_at``."""
    ensure_installed()
    options = {
        "url": url,
        "stopAt": stop_at,
        "login": login,
        "password": password,
        "approve": approve,
        "timeoutMs": int(timeout * 1000),
    }
    result = subprocess.run(
        ["node", str(OIDC_DIR / "browser.mjs"), json.dumps(options)],
        cwd=OIDC_DIR,
        capture_output=True,
        text=True,
        timeout=timeout + 15,
    )
    if result.returncode != 0:
        raise BrowserError(f"browser.mjs failed:\n{result.stderr[-3000:]}")
    final: str = json.loads(result.stdout.strip().splitlines()[-1])["url"]
    return final


_CONTINUE_FORM = re.compile(
    r'<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>(.*?)</form>', re.I | re.S
)
_HIDDEN_INPUT = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


def press_continue(url: str, client: httpx.Client | None = None) -> httpx.Response:
    """Open a connect link as a person does: load its page (which changes nothing), then
    press its ``continue`` button; the answer to that POST (redirects not followed). Pass
    ``client`` to keep the cookie the server sets, as a browser would."""
    own = client is None
    agent = client or httpx.Client(timeout=30)
    try:
        page = agent.get(url, follow_redirects=False)
        assert page.status_code == 200, (page.status_code, page.text[:300])
        assert 'id="continue"' in page.text, page.text[:500]
        form = _CONTINUE_FORM.search(page.text)
        assert form is not None, page.text[:500]
        fields = {k: html.unescape(v) for k, v in _HIDDEN_INPUT.findall(form.group(2))}
        action = page.url.join(html.unescape(form.group(1)))
        return agent.post(action, data=fields, follow_redirects=False)
    finally:
        if own:
            agent.close()


@dataclass(frozen=True)
class CaughtRequest:
    path: str
    params: dict[str, str]


class CallbackCatcher:
    """A tiny HTTP server on 127.0.0.1 that records every GET and answers a plain page."""

    def __init__(self, path: str = "/callback") -> None:
        self.path = path
        self._requests: queue.Queue[CaughtRequest] = queue.Queue()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                catcher._requests.put(CaughtRequest(parts.path, params))
                body = b"<html><title>done</title><body>You may close this window.</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean; callbacks carry codes anyway

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def __enter__(self) -> CallbackCatcher:
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

    def wait(self, timeout: float = 10.0) -> CaughtRequest:
        """The next request that arrived (waiting up to ``timeout`` seconds)."""
        try:
            return self._requests.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"nothing reached {self.url} within {timeout} s") from None
