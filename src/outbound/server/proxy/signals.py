"""What a proxied call leaves behind: one audit event, its metrics and its access-log line.

The audit event (``proxy.call``) names the app, the connection's owner and token, and in its
detail the method, the provider's host, the path with the query's parameter *names* only (a
value may be a secret: an API key the vault added, a search the caller made), the status and
the duration. Never a body, a header or a token. Calls that did not authenticate leave no
event (there is no project to record it in), as for fetches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from ... import metrics
from ...audit import event
from ..http import logs

if TYPE_CHECKING:
    from ..vault import Vault
    from .caller import Owner

__all__ = ["Record", "loggable_path"]

ROUTE = "/v1/outbound/proxy/{appId}/{path}"
_MAX_DETAIL = 400


def loggable_path(url: httpx.URL) -> str:
    """The URL's path, and its query's parameter names without their values."""
    path = url.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
    if not url.query:
        return path
    names = [part.split(b"=", 1)[0].decode("ascii", "replace") for part in url.query.split(b"&")]
    return path + "?" + "&".join(f"{name}=…" for name in names if name)


class Record:
    """Collects what a call did as it goes; :meth:`finish` records it once."""

    def __init__(self, method: str, request_id: str) -> None:
        self.method = method
        self.request_id = request_id
        self.started = time.perf_counter()
        self.app_id = ""
        self.owner: Owner | None = None
        self.token_id = ""
        self.template_id = ""
        self.host = ""
        self.path = ""
        self.status = 500
        self.error_code = ""
        self.notes: list[str] = []

    def target(self, url: httpx.URL) -> None:
        self.host = url.host
        self.path = loggable_path(url)

    def error(self, status: int, code: str) -> None:
        self.status = status
        self.error_code = code

    def note(self, text: str) -> None:
        self.notes.append(text)

    def detail(self, seconds: float) -> str:
        where = f"{self.host} {self.path}" if self.host else "-"
        text = f"{self.method} {where} {self.status} {seconds * 1000:.0f}ms"
        if self.notes:
            text += " (" + "; ".join(self.notes) + ")"
        return text[:_MAX_DETAIL]

    async def finish(self, vault: Callable[[], Vault]) -> None:
        seconds = time.perf_counter() - self.started
        metrics.proxy_request(self.template_id, self.method, self.status, seconds)
        metrics.http_request(ROUTE, self.method, self.status, seconds)
        try:
            current = vault()
        except Exception:  # no vault yet (the lifespan has not run): nothing to record in
            return
        if current.settings.log_format == "json":
            logs.access(ROUTE, self.method, self.status, seconds)
        owner = self.owner
        if owner is None:
            return
        await current.store.audit.batched(
            event(
                owner.project_id,
                "proxy.call",
                app_id=owner.app_id,
                user_id=owner.user_id,
                tenant_id=owner.tenant_id,
                token_id=self.token_id,
                error_code=self.error_code,
                detail=self.detail(seconds),
            )
        )
