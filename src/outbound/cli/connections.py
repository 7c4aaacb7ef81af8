"""``outbound connections list | verify``: the project's connections, through a running server."""

from __future__ import annotations

import json

import click

from .sdk import PREFIX, Server, server_options

__all__ = ["connections"]


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
@server_options
def connections_list(
    app_id: str | None,
    user_id: str | None,
    tenant_id: str | None,
    status: str | None,
    limit: int | None,
    server: Server,
) -> None:
    """Print the connections, one JSON object a line, oldest first (never a secret)."""
    given = {"appId": app_id, "userId": user_id, "tenantId": tenant_id, "status": status}
    params = {k: v for k, v in given.items() if v}
    for item in server.pages(f"{PREFIX}/connections", "connections", params, limit):
        click.echo(json.dumps(item))


@connections.command("verify")
@click.argument("connection_id")
@server_options
def connections_verify(connection_id: str, server: Server) -> None:
    """Ask the provider whose account a connection is (the template's whoami request, made
    with its token, which is never shown). Prints the verification as JSON; exits 1 when
    the provider did not confirm it."""
    from urllib.parse import quote

    answer = server.call("POST", f"{PREFIX}/connections/{quote(connection_id, safe='')}/verify")
    verification = answer.get("verification", {})
    click.echo(json.dumps(verification))
    if not verification.get("ok"):
        raise SystemExit(1)
