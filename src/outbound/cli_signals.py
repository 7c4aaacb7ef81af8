"""``outbound connections list`` and ``outbound webhooks …``: through the running server's
management API (like ``outbound apps create``), with the management key read from an
environment variable, never from the command line."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import click
import httpx

__all__ = ["connections", "webhooks"]

PREFIX = "/v1/mgmt/outbound"
EVENTS = (
    "connection.created",
    "connection.updated",
    "connection.refresh_failing",
    "connection.recovered",
    "connection.reconnect_required",
    "connection.deleted",
)


def _server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--url",
            "server_url",
            envvar="OUTBOUND_URL",
            show_envvar=True,
            default="http://127.0.0.1:8080",
            show_default=True,
            help="Base URL of the running outbound server.",
        ),
        click.option(
            "--project",
            "project_id",
            required=True,
            envvar="OUTBOUND_PROJECT_ID",
            show_envvar=True,
            help="Project id.",
        ),
        click.option(
            "--management-key-env",
            metavar="VAR",
            default="OUTBOUND_MANAGEMENT_KEY",
            show_default=True,
            help="Name of the environment variable holding the project's management key.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _call(
    method: str,
    path: str,
    server: dict[str, str],
    *,
    params: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    key = os.environ.get(server["management_key_env"], "")
    if not key:
        raise click.ClickException(
            f"the environment variable {server['management_key_env']} (the management key)"
            " is not set"
        )
    url = server["server_url"].rstrip("/") + path
    try:
        response = httpx.request(
            method,
            url,
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {server['project_id']}:{key}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"cannot reach the outbound server at {server['server_url']}"
            f" ({type(exc).__name__}); is `outbound serve` running? (--url / OUTBOUND_URL)"
        ) from None
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200:
        code = answer.get("errorCode", f"HTTP {response.status_code}")
        raise click.ClickException(
            f"{code}: {answer.get('errorMessage') or response.reason_phrase}"
        )
    return answer


def _server(options: dict[str, Any]) -> dict[str, str]:
    return {k: options.pop(k) for k in ("server_url", "project_id", "management_key_env")}


def _pages(
    path: str, server: dict[str, str], params: dict[str, str], field: str, limit: int | None
) -> None:
    """Print every item of a keyset-paged list, one JSON object a line (up to ``limit``)."""
    printed = 0
    cursor = ""
    while True:
        page_params = {**params, "limit": "500"}
        if cursor:
            page_params["cursor"] = cursor
        answer = _call("GET", path, server, params=page_params)
        for item in answer[field]:
            if limit is not None and printed >= limit:
                return
            click.echo(json.dumps(item))
            printed += 1
        cursor = answer.get("nextCursor", "")
        if not cursor:
            return


@click.group()
def connections() -> None:
    """See the project's connections and their status (through a running server)."""


@connections.command("list")
@click.option("--app", "app_id", default=None, help="Only this app's connections.")
@click.option("--user", "user_id", default=None, help="Only this user's.")
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant's.")
@click.option(
    "--status",
    type=click.Choice(["active", "refresh_failing", "reconnect_required"]),
    default=None,
    help="Only connections in this status.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Print at most N.")
@_server_options
def connections_list(
    app_id: str | None,
    user_id: str | None,
    tenant_id: str | None,
    status: str | None,
    limit: int | None,
    **options: Any,
) -> None:
    """Print the connections, one JSON object a line, oldest first (never a secret)."""
    given = {"appId": app_id, "userId": user_id, "tenantId": tenant_id, "status": status}
    params = {k: v for k, v in given.items() if v}
    _pages(f"{PREFIX}/connections", _server(options), params, "connections", limit)


@click.group()
def webhooks() -> None:
    """Manage the project's webhooks (Standard Webhooks, through a running server)."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENTS),
    help="An event to send; repeatable. Default: every event.",
)
@_server_options
def webhooks_add(url: str, events: tuple[str, ...], **options: Any) -> None:
    """Add a webhook; prints it with its signing secret (shown this once)."""
    body: dict[str, Any] = {"url": url, "events": list(events) or None}
    click.echo(json.dumps(_call("POST", f"{PREFIX}/webhooks", _server(options), body=body)))


@webhooks.command("list")
@_server_options
def webhooks_list(**options: Any) -> None:
    """Print the webhooks, one JSON object a line (never their secrets)."""
    for webhook in _call("GET", f"{PREFIX}/webhooks", _server(options))["webhooks"]:
        click.echo(json.dumps(webhook))


@webhooks.command("remove")
@click.argument("webhook_id")
@_server_options
def webhooks_remove(webhook_id: str, **options: Any) -> None:
    """Remove a webhook (and its pending deliveries)."""
    _call("DELETE", f"{PREFIX}/webhooks/{quote(webhook_id, safe='')}", _server(options))
    click.echo(json.dumps({"id": webhook_id, "removed": True}))


@webhooks.command("rotate")
@click.argument("webhook_id")
@click.option(
    "--overlap",
    type=click.IntRange(min=0, max=7 * 86400),
    default=86400,
    show_default=True,
    help="Seconds during which the old secret keeps signing alongside the new one.",
)
@_server_options
def webhooks_rotate(webhook_id: str, overlap: int, **options: Any) -> None:
    """Give a webhook a new signing secret; prints it (shown this once)."""
    body = {"overlapSeconds": overlap}
    path = f"{PREFIX}/webhooks/{quote(webhook_id, safe='')}/rotate"
    click.echo(json.dumps(_call("POST", path, _server(options), body=body)))


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--retry", "retry_id", metavar="DELIVERY_ID", help="Send this delivery again now.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Print at most N.")
@_server_options
def webhooks_deliveries(
    webhook_id: str, retry_id: str | None, limit: int | None, **options: Any
) -> None:
    """Print a webhook's deliveries with their attempts, one JSON object a line; or, with
    --retry, send one again."""
    server = _server(options)
    path = f"{PREFIX}/webhooks/{quote(webhook_id, safe='')}/deliveries"
    if retry_id:
        click.echo(json.dumps(_call("POST", f"{path}/{quote(retry_id, safe='')}/retry", server)))
        return
    _pages(path, server, {}, "deliveries", limit)
