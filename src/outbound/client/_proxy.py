"""Calls through the server's provider-API proxy (``/v1/outbound/proxy/{appId}/{path}``,
docs/proxy.md): the request built once here, sent by the sync and async clients' ``proxy``
and ``proxy_stream``.

The answer is the provider's, as an ``httpx.Response``: any status, headers and body. An
error of the vault itself carries the header ``Outbound-Error: 1`` (:func:`is_vault_error`)
and the usual ``{"errorCode", …}`` body. Proxied calls go through a plain httpx client of
their own (bodies of any size, streamed), not the management API's pooled transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["PROXY_PREFIX", "is_vault_error", "proxy_request"]

PROXY_PREFIX = "/v1/outbound/proxy/"


def is_vault_error(response: httpx.Response) -> bool:
    """Whether ``response`` is the vault's own error rather than the provider's answer."""
    return bool(response.headers.get("outbound-error") == "1")


def proxy_request(
    http: httpx.Client | httpx.AsyncClient,
    base_url: str,
    authorization: Mapping[str, str],
    app_id: str,
    method: str,
    path: str,
    *,
    user_id: str | None,
    tenant_id: str | None,
    params: Any,
    json: Any,
    content: Any,
    headers: Mapping[str, str] | None,
    retries: int | None,
) -> httpx.Request:
    if (user_id is None) == (tenant_id is None):
        raise ValueError("name the connection with exactly one of user_id= and tenant_id=")
    sent = {**(headers or {}), **authorization}
    if user_id is not None:
        sent["Outbound-User-Id"] = user_id
    if tenant_id is not None:
        sent["Outbound-Tenant-Id"] = tenant_id
    if retries is not None:
        sent["Outbound-Retries"] = str(retries)
    url = f"{base_url}{PROXY_PREFIX}{quote(app_id, safe='')}/{path.lstrip('/')}"
    return http.build_request(
        method.upper(), url, params=params, json=json, content=content, headers=sent
    )
