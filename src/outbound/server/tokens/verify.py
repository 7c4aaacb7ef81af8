"""Verify a connection: call the provider's whoami request with the stored token and say
whose account it is — ``POST /v1/mgmt/outbound/connections/{id}/verify``, ``outbound
connections verify`` and the console's Verify button.

The request is the template's ``whoami`` (catalog): a path under the app's ``apiBaseUrl``
(or the template's ``api_base_url``, its values read back from the app's stored URLs), or an
absolute URL of the provider's. The token is refreshed first when it is due, exactly as a
fetch would; the call goes through the network guard like every provider call.

The answer never carries the token: only ``ok``, the account's name and id, the provider's
HTTP status and a short error (the provider's own error text, with the token masked should a
provider echo it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ...catalog import Template, get_template
from ...net import AddressRefused, EncodingRefused, UnsafeURL, provider_http
from ...storage import AppRecord, TokenRecord
from ..http.errors import ApiError

if TYPE_CHECKING:
    from ..vault import Vault

__all__ = ["Verification", "account_field", "verify_connection", "whoami_url"]

TIMEOUT = 10.0
# The provider's answer is read up to this size: a whoami answer is a small JSON object.
MAX_ANSWER = 256 * 1024


@dataclass(frozen=True)
class Verification:
    ok: bool
    account: str | None = None
    account_id: str | None = None
    status: int | None = None  # the provider's HTTP status, when it answered
    error: str | None = None
    url: str | None = None  # where the whoami request went (no query string)

    def to_wire(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "account": self.account,
            "accountId": self.account_id,
            "status": self.status,
            "error": self.error,
            "url": self.url,
        }


def account_field(answer: Any, path: str) -> str | None:
    """The value at a dotted path of a JSON answer (numeric parts index lists), as text."""
    value = answer
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:256]


def whoami_url(template: Template, app: AppRecord) -> str | None:
    """The whoami request's URL for this app, or None when it cannot be known."""
    spec = template.spec
    if spec.whoami is None:
        return None
    config = app.config
    values = template.values_from_app(config)
    missing = {v.name for v in spec.values} - set(values)
    path = spec.whoami.path
    if path.startswith("https://"):
        base = ""
    else:
        base = str(config.get("apiBaseUrl") or "")
        if not base:
            if not spec.api_base_url:
                return None
            base = spec.api_base_url
    text = base.rstrip("/") + path if base else path
    used = {name for name in missing if f"{{{name}}}" in text}
    if used:
        return None
    for name, value in values.items():
        text = text.replace(f"{{{name}}}", value)
    return _same_scheme(text, config)


def _same_scheme(url: str, config: dict[str, Any]) -> str:
    """An app whose endpoints on this host are plain http (a loopback or private network the
    operator allowed) is called there over http too; the guard still decides."""
    host = urlsplit(url).netloc
    for field in ("authorizationUrl", "tokenUrl", "discoveryUrl"):
        stored = str(config.get(field) or "")
        if stored.startswith("http://") and urlsplit(stored).netloc == host:
            return "http://" + url.removeprefix("https://")
    return url


def _masked(text: str, token: str) -> str:
    return text.replace(token, "****") if token else text


def _error_text(answer: Any, fallback: str) -> str:
    if isinstance(answer, dict):
        for key in ("error_description", "message", "error", "detail"):
            value = answer.get(key)
            if isinstance(value, str) and value:
                return value[:300]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])[:300]
    return fallback


async def _usable(vault: Vault, token: TokenRecord) -> TokenRecord:
    """The token, refreshed first when a fetch would refresh it (ApiError if that fails)."""
    if token.needs_reconnect:
        raise ApiError("E131010", "this connection must be connected again")
    now = time.time()
    if token.refresh_token is not None and not await vault.tokens.is_usable(token, now):
        return await vault.tokens.refresher.refresh(token, force=False)
    return token


async def verify_connection(vault: Vault, project_id: str, connection_id: str) -> Verification:
    """Call the provider's whoami request with the connection's token (ApiError E111504 when
    there is no such connection; every other outcome is a Verification)."""
    token = await vault.store.tokens.get(project_id, connection_id)
    if token is None:
        raise ApiError("E111504", f"no connection {connection_id!r} in this project")
    app = await vault.store.apps.get(project_id, token.app_id)
    template_id = str(app.config.get("templateId") or "") if app else ""
    template = get_template(template_id) if template_id else None
    if app is None or template is None or template.spec.whoami is None:
        return Verification(
            ok=False,
            error="the app's provider template names no whoami request, so there is nothing to"
            " verify with (apps made from a template with one can be verified)",
        )
    url = whoami_url(template, app)
    if url is None:
        return Verification(
            ok=False,
            error="the whoami request's address is not known for this app: set its apiBaseUrl",
        )
    try:
        token = await _usable(vault, token)
    except ApiError as exc:
        return Verification(ok=False, error=f"{exc.code}: {exc.message}"[:300])
    secret = token.access_token.reveal() if token.access_token is not None else ""
    if not secret:
        return Verification(ok=False, error="the connection holds no access token")
    return await _call(vault, template, url, secret)


async def _call(vault: Vault, template: Template, url: str, secret: str) -> Verification:
    whoami = template.spec.whoami
    assert whoami is not None
    headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
    headers.update(whoami.headers)
    content = whoami.body.encode() if whoami.body else None
    if content is not None:
        headers["Content-Type"] = "application/json"
    shown = url.split("?", 1)[0]
    try:
        async with provider_http(vault.network, timeout=TIMEOUT) as http:
            response = await http.request(whoami.method, url, headers=headers, content=content)
    except (UnsafeURL, AddressRefused, EncodingRefused) as exc:
        return Verification(ok=False, url=shown, error=f"refused by the network guard: {exc}")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:
        # ValueError: a stored token httpx cannot send in a header (not ASCII) -- a failed
        # verification, never a 500; the type alone is shown (the message may hold the token)
        return Verification(
            ok=False, url=shown, error=f"the provider could not be reached ({type(exc).__name__})"
        )
    answer: Any = None
    if len(response.content) <= MAX_ANSWER:
        try:
            answer = response.json()
        except ValueError:
            answer = None
    success = template.spec.success_field
    refused = success and isinstance(answer, dict) and answer.get(success) is False
    if not response.is_success or refused:
        error = _error_text(answer, f"the provider answered HTTP {response.status_code}")
        return Verification(
            ok=False, status=response.status_code, url=shown, error=_masked(error, secret)
        )
    account = account_field(answer, whoami.account)
    account_id = account_field(answer, whoami.id) if whoami.id else None
    if account is None and account_id is None:
        return Verification(
            ok=False,
            status=response.status_code,
            url=shown,
            error=f"the answer holds no {whoami.account!r}",
        )
    return Verification(
        ok=True,
        account=_masked(account or "", secret) or None,
        account_id=_masked(account_id or "", secret) or None,
        status=response.status_code,
        url=shown,
    )
