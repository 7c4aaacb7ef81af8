"""``outbound proxy METHOD PATH --app A --user U``: call a provider's API through a running
server's proxy (docs/proxy.md), with the connection's credential — never shown."""

from __future__ import annotations

import sys

import click

from .sdk import Server, server_options

__all__ = ["proxy"]


def _headers(given: tuple[str, ...]) -> dict[str, str]:
    headers = {}
    for line in given:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{line!r} is not 'Name: value'", param_hint="--header")
        headers[name.strip()] = value.strip()
    return headers


@click.command("proxy")
@click.argument("method", type=click.Choice(
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], case_sensitive=False
))  # fmt: skip
@click.argument("path")
@click.option("--app", "app_id", required=True, help="The outbound app (its apiBaseUrl).")
@click.option("--user", "user_id", default=None, help="The user whose connection is used.")
@click.option("--tenant", "tenant_id", default=None, help="The tenant whose connection is used.")
@click.option(
    "--data",
    default=None,
    help="The request body; @FILE reads it from a file, @- from standard input.",
)
@click.option("-H", "--header", "header", multiple=True, help="'Name: value', repeatable.")
@click.option(
    "--retries", type=click.IntRange(0, 5), default=None, help="Outbound-Retries (0 to 5)."
)
@server_options
def proxy(
    method: str,
    path: str,
    app_id: str,
    user_id: str | None,
    tenant_id: str | None,
    data: str | None,
    header: tuple[str, ...],
    retries: int | None,
    server: Server,
) -> None:
    """Call the app's provider API at PATH (under its apiBaseUrl; a query may follow) with the
    connection of --user or --tenant. The answer's body goes to standard output as it
    arrives, its status line to standard error; exit code 1 unless the status is 2xx."""
    if (user_id is None) == (tenant_id is None):
        raise click.UsageError("name the connection with exactly one of --user and --tenant")
    content: bytes | None = None
    if data is not None:
        if data == "@-":
            content = sys.stdin.buffer.read()
        elif data.startswith("@"):
            with open(data[1:], "rb") as file:
                content = file.read()
        else:
            content = data.encode()
    with server.client.proxy_stream(
        app_id, method, path, user_id=user_id, tenant_id=tenant_id, content=content,
        headers=_headers(header), retries=retries,
    ) as answer:  # fmt: skip
        marker = " (the vault's own error)" if answer.headers.get("outbound-error") else ""
        click.echo(f"HTTP {answer.status_code}{marker}", err=True)
        for chunk in answer.iter_bytes():
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        if not 200 <= answer.status_code < 300:
            raise SystemExit(1)
