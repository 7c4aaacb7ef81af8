"""``outbound connections list | verify | connect``: the project's connections, through a
running server."""

from __future__ import annotations

import json
import time

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


@connections.command("connect")
@click.option("--app", "app_id", required=True, help="The app to connect.")
@click.option("--user", "user_id", default=None, help="The user to connect.")
@click.option("--tenant", "tenant_id", default=None, help="The tenant (alone: the whole tenant).")
@click.option("--scope", "scopes", multiple=True, help="A scope to ask for (repeatable).")
@click.option(
    "--device",
    is_flag=True,
    help="Use the device flow (RFC 8628): print a code to enter at the provider's page, and"
    " wait until the connection is made, instead of printing a link for a browser.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="With --device: wait (polling the server) until the connect ends.",
)
@server_options
def connections_connect(
    app_id: str,
    user_id: str | None,
    tenant_id: str | None,
    scopes: tuple[str, ...],
    device: bool,
    wait: bool,
    server: Server,
) -> None:
    """Start connecting a user (or a tenant). Prints the server's answer as JSON; with
    --device, also tells the user (on stderr) where to enter which code, and then the
    connect's final status, exiting 1 unless it connected."""
    options: dict[str, object] = {"flow": "device" if device else "redirect"}
    if scopes:
        options["scopes"] = list(scopes)
    body = {
        "appId": app_id,
        "userId": user_id,
        "tenantId": tenant_id,
        "tenantLevel": bool(tenant_id) and not user_id,
        "options": options,
    }
    answer = server.call("POST", f"{PREFIX}/app/connect", body=body)
    click.echo(json.dumps(answer))
    if not device:
        return
    click.echo(
        f"Open {answer.get('verification_uri', '')} and enter the code"
        f" {answer.get('user_code', '')}"
        + (
            f" (or open {answer['verification_uri_complete']})"
            if answer.get("verification_uri_complete")
            else ""
        ),
        err=True,
    )
    if not wait:
        return
    deadline = time.monotonic() + int(answer.get("expires_in", 600)) + 30
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        time.sleep(max(1, int(answer.get("interval", 5))))
        status = server.call("GET", f"{PREFIX}/connect/{answer['id']}").get("connect", {})
        if status.get("status") != "pending":
            break
    click.echo(json.dumps(status))
    if status.get("status") != "connected":
        raise SystemExit(1)
