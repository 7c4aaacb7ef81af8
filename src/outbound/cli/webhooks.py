"""``outbound webhooks …``: the project's webhooks (Standard Webhooks), through a running
server."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import click

from ..storage.connection_events import EVENT_TYPES
from .sdk import PREFIX, Server, server_options

__all__ = ["webhooks"]


def _path(webhook_id: str, *rest: str) -> str:
    return "/".join((f"{PREFIX}/webhooks", quote(webhook_id, safe=""), *rest))


@click.group()
def webhooks() -> None:
    """Manage the project's webhooks (Standard Webhooks, through a running server)."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENT_TYPES),
    help="An event to send; repeatable. Default: every event.",
)
@server_options
def webhooks_add(url: str, events: tuple[str, ...], server: Server) -> None:
    """Add a webhook; prints it with its signing secret (shown this once)."""
    body: dict[str, Any] = {"url": url, "events": list(events) or None}
    added = server.call("POST", f"{PREFIX}/webhooks", body=body, idempotent=False)
    click.echo(json.dumps(added))


@webhooks.command("list")
@server_options
def webhooks_list(server: Server) -> None:
    """Print the webhooks, one JSON object a line (never their secrets)."""
    for webhook in server.call("GET", f"{PREFIX}/webhooks")["webhooks"]:
        click.echo(json.dumps(webhook))


@webhooks.command("remove")
@click.argument("webhook_id")
@server_options
def webhooks_remove(webhook_id: str, server: Server) -> None:
    """Remove a webhook (and its pending deliveries)."""
    server.call("DELETE", _path(webhook_id))
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
@server_options
def webhooks_rotate(webhook_id: str, overlap: int, server: Server) -> None:
    """Give a webhook a new signing secret; prints it (shown this once)."""
    body = {"overlapSeconds": overlap}
    rotated = server.call("POST", _path(webhook_id, "rotate"), body=body, idempotent=False)
    click.echo(json.dumps(rotated))


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--retry", "retry_id", metavar="DELIVERY_ID", help="Send this delivery again now.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Print at most N.")
@server_options
def webhooks_deliveries(
    webhook_id: str, retry_id: str | None, limit: int | None, server: Server
) -> None:
    """Print a webhook's deliveries with their attempts, one JSON object a line; or, with
    --retry, send one again."""
    path = _path(webhook_id, "deliveries")
    if retry_id:
        retry = f"{path}/{quote(retry_id, safe='')}/retry"
        retried = server.call("POST", retry, idempotent=False)
        click.echo(json.dumps(retried))
        return
    for item in server.pages(path, "deliveries", {}, limit):
        click.echo(json.dumps(item))
