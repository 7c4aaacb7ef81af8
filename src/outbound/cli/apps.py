"""``outbound apps create --template … | --mcp …``, ``apps list | show | update | delete``.

Apps are created through the running server's management API, like every other change to a
project's apps: the server checks the request exactly as it checks the SDK's, it works
against a remote server or several instances, and the operator's machine needs a management
key, not the master key and the database. The answer includes the callback URL to register
at the provider.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .sdk import PREFIX, Server, env_secret, server_options
from .templates import find_template

__all__ = ["apps"]


def _parse_values(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--value")
        values[name.strip()] = value.strip()
    return values


@click.group()
def apps() -> None:
    """Manage a project's outbound apps through a running server."""


@apps.command("create")
@click.option("--template", "template_id", default=None, help="Provider template id.")
@click.option(
    "--mcp",
    "mcp_url",
    metavar="URL",
    default=None,
    help="Instead of --template: a remote MCP server's URL. The app finds the server's"
    " authorization server and registers its own client there at the first connect link"
    " (docs/mcp.md); no client id or secret is needed.",
)
@click.option(
    "--client-id",
    default=None,
    help="The OAuth client id from the provider (not for templates that register their own).",
)
@click.option(
    "--client-secret-env",
    metavar="VAR",
    default=None,
    help="Name of the environment variable holding the client secret (never the secret"
    " itself: command lines show up in process lists and shell history).",
)
@click.option(
    "--value",
    "value_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A per-instance value the template needs (shop, domain, tenant…); repeatable.",
)
@click.option("--name", default=None, help="App name (default: the provider's name).")
@click.option("--id", "app_id", default=None, help="App id (default: generated).")
@click.option(
    "--scope", "scopes", multiple=True, help="Default scope, replacing the template's; repeatable."
)
@click.option("--redirect-url", default=None, help="Where users return after connecting.")
@server_options
def apps_create(
    template_id: str | None,
    mcp_url: str | None,
    client_id: str | None,
    client_secret_env: str | None,
    value_pairs: tuple[str, ...],
    name: str | None,
    app_id: str | None,
    scopes: tuple[str, ...],
    redirect_url: str | None,
    server: Server,
) -> None:
    """Create an app from a provider template; prints the app as JSON.

    Register the printed callbackUrl as the redirect URI of your OAuth app at the provider
    (apps for MCP servers register themselves).
    """
    if (template_id is None) == (mcp_url is None):
        raise click.UsageError("give either --template ID or --mcp URL")
    values = _parse_values(value_pairs)
    if mcp_url is not None:
        template_id = "mcp"
        values["url"] = mcp_url
    assert template_id is not None
    template = find_template(template_id)
    if client_id is None and not template.spec.use_dcr:
        raise click.UsageError(f"{template.name} needs --client-id")
    try:
        template.resolve_values(values)  # say what is missing before asking the server
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if client_secret_env is None and template.spec.client_secret_required:
        raise click.ClickException(
            f"{template.name} needs a client secret: pass --client-secret-env VAR"
        )
    body = _by_template(template_id, values, client_id, client_secret_env, name, app_id)
    overrides: dict[str, Any] = {}
    if scopes:
        overrides["defaultScopes"] = list(scopes)
    if redirect_url:
        overrides["defaultRedirectUrl"] = redirect_url
    if overrides:
        body["overrides"] = overrides
    # Not idempotent: a repeat would create a second app (or fail on the name).
    path = f"{PREFIX}/app/create/bytemplate"
    app = server.call("POST", path, body=body, idempotent=False)["app"]
    click.echo(json.dumps(app))
    _what_to_register(template, app)


def _by_template(
    template_id: str,
    values: dict[str, str],
    client_id: str | None,
    client_secret_env: str | None,
    name: str | None,
    app_id: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"templateId": template_id, "values": values}
    if client_id:
        body["clientId"] = client_id
    if client_secret_env:
        body["clientSecret"] = env_secret(client_secret_env, "client secret")
    if name:
        body["name"] = name
    if app_id:
        body["id"] = app_id
    return body


def _what_to_register(template: Any, app: dict[str, Any]) -> None:
    """Tell the operator what to do at the provider (on stderr: stdout is the app's JSON)."""
    if template.spec.use_dcr:
        click.echo(
            "The app registers its own OAuth client at the server's authorization server"
            " when its first connect link is made.",
            err=True,
        )
    elif app.get("callbackUrl"):
        click.echo(
            f"Register {app['callbackUrl']} as the redirect URI of your {template.name} app.",
            err=True,
        )


@apps.command("list")
@server_options
def apps_list(server: Server) -> None:
    """Print the project's apps, one JSON object a line (never a client secret)."""
    for app in server.apps.load_all_applications()["apps"]:
        click.echo(json.dumps(app))


@apps.command("show")
@click.argument("app_id", metavar="ID")
@server_options
def apps_show(app_id: str, server: Server) -> None:
    """Print one app as JSON, with the callback URL to register at its provider."""
    click.echo(json.dumps(server.apps.load_application(app_id)["app"]))


@apps.command("update")
@click.argument("app_id", metavar="ID")
@click.option("--name", default=None, help="A new name.")
@click.option("--client-id", default=None, help="A new OAuth client id.")
@click.option(
    "--client-secret-env",
    metavar="VAR",
    default=None,
    help="Name of the environment variable holding a new client secret (the secret is kept"
    " when not given).",
)
@click.option(
    "--scope", "scopes", multiple=True, help="Default scope, replacing the app's; repeatable."
)
@click.option("--redirect-url", default=None, help="Where users return after connecting.")
@click.option(
    "--refresh-margin",
    type=click.IntRange(min=0),
    default=None,
    help="Seconds before expiry at which this app's tokens are refreshed.",
)
@server_options
def apps_update(
    app_id: str,
    name: str | None,
    client_id: str | None,
    client_secret_env: str | None,
    scopes: tuple[str, ...],
    redirect_url: str | None,
    refresh_margin: int | None,
    server: Server,
) -> None:
    """Change some of an app's fields (the others stay as they are); prints the app."""
    changes: dict[str, Any] = {
        k: v
        for k, v in (
            ("name", name),
            ("clientId", client_id),
            ("defaultRedirectUrl", redirect_url),
            ("refreshMargin", refresh_margin),
        )
        if v is not None
    }
    if scopes:
        changes["defaultScopes"] = list(scopes)
    if client_secret_env:
        changes["clientSecret"] = env_secret(client_secret_env, "client secret")
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    # The API overwrites the app with what it is sent: send it back as loaded, changed (an
    # omitted client secret is kept; output-only fields are ignored).
    app = server.apps.load_application(app_id)["app"]
    updated = server.call("POST", f"{PREFIX}/app/update", body={"app": {**app, **changes}})
    click.echo(json.dumps(updated["app"]))


@apps.command("delete")
@click.argument("app_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@server_options
def apps_delete(app_id: str, yes: bool, server: Server) -> None:
    """Delete an app with all its connections; their tokens are revoked at the provider."""
    if not yes:
        click.confirm(
            f"Delete app {app_id!r} and every connection of it (users will connect again)?",
            abort=True,
            err=True,
        )
    server.apps.delete_application(app_id)
    click.echo(json.dumps({"deleted": app_id}))
