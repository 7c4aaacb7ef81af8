"""``outbound init``, ``outbound projects …`` and ``outbound console-link``: projects, made
and configured in the store itself (the master key and the database, no server needed)."""

from __future__ import annotations

import json
from typing import Any

import click

from .store import (
    deprecated_json_flag,
    project_option,
    setting_option,
    settings_from,
    store_options,
    with_store,
)

__all__ = ["console_link", "init", "print_credentials", "projects"]


def print_credentials(project_id: str, key: str) -> None:
    click.echo(json.dumps({"projectId": project_id, "managementKey": key}))


async def _new_project(store: Any, name: str, key_name: str) -> tuple[str, str]:
    project_id = await store.keys.create_project(name)
    _, key = await store.keys.create(project_id, key_name)
    return project_id, key


@click.command()
@store_options
@deprecated_json_flag
def init(**options: Any) -> None:
    """Prepare the store and create a new project with a management key.

    Prints one JSON line: {"projectId": …, "managementKey": …}.
    """
    print_credentials(*with_store(settings_from(**options), lambda s: _new_project(s, "", "init")))


@click.group()
def projects() -> None:
    """Manage projects."""


@projects.command("create")
@store_options
@click.option("--name", default="", help="A name for the project.")
@deprecated_json_flag
def projects_create(name: str, **options: Any) -> None:
    """Create a project and its first management key.

    Prints one JSON line: {"projectId": …, "managementKey": …}.
    """
    settings = settings_from(**options)
    print_credentials(*with_store(settings, lambda s: _new_project(s, name, "first")))


@projects.command("list")
@store_options
def projects_list(**options: Any) -> None:
    """Print every project in the store, one JSON object a line (never a key)."""

    async def work(store: Any) -> list[Any]:
        return list(await store.keys.projects())

    for row in with_store(settings_from(**options), work):
        wire = {"projectId": row["id"], "name": row["name"], "createdAt": row["created_at"]}
        click.echo(json.dumps(wire))


def _issuer_json(issuer: Any) -> str:
    return json.dumps(
        {
            "projectId": issuer.project_id,
            "issuer": issuer.issuer,
            "jwksUrl": issuer.jwks_url,
            "audience": issuer.audience,
            "noAudience": issuer.audience_optional,
            "tenantRole": issuer.tenant_role,
            "tenantPermission": issuer.tenant_permission,
        }
    )


@projects.command("show-session-issuer")
@store_options
@project_option
def projects_show_session_issuer(project_id: str, **options: Any) -> None:
    """Print the project's session-token issuer as JSON (as set-session-issuer set it)."""
    from ..storage.session_issuers import get_session_issuer

    async def work(store: Any) -> tuple[bool, Any]:
        return await store.keys.project_exists(project_id), await get_session_issuer(
            store, project_id
        )

    exists, issuer = with_store(settings_from(**options), work)
    if not exists:
        raise click.ClickException(f"no project {project_id!r}")
    if issuer is None:
        raise click.ClickException(
            f"project {project_id!r} has no session issuer; set one with"
            " `outbound projects set-session-issuer`"
        )
    click.echo(_issuer_json(issuer))


@projects.command("set-session-issuer")
@store_options
@project_option
@click.option("--issuer", required=True, help="The session tokens' iss, exactly.")
@click.option("--jwks-url", required=True, help="Where the issuer publishes its signing keys.")
@click.option("--audience", default="", help="A value the tokens' aud must contain.")
@click.option(
    "--no-audience",
    is_flag=True,
    help="The issuer cannot set an audience: accept its tokens without one (any token it"
    " issues, for any app, then connects). Required when --audience is not given.",
)
@click.option(
    "--tenant-role",
    default="",
    help="The role (in the token's tenants claim for that tenant) that lets a user connect a"
    " whole tenant (tenantLevel) from the browser.",
)
@click.option(
    "--tenant-permission",
    default="",
    help="The permission that lets a user connect a whole tenant from the browser. Without"
    " --tenant-role or --tenant-permission, tenant-level connections from the browser are off.",
)
def projects_set_session_issuer(
    project_id: str,
    issuer: str,
    jwks_url: str,
    audience: str,
    no_audience: bool,
    tenant_role: str,
    tenant_permission: str,
    **options: Any,
) -> None:
    """Accept end users' session tokens from this issuer (POST /v1/outbound/oauth/connect)."""
    from urllib.parse import urlsplit

    from ..storage.session_issuers import SessionIssuer, set_session_issuer

    for name, url in (("--issuer", issuer), ("--jwks-url", jwks_url)):
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint=name)
    if bool(audience) == no_audience:
        raise click.UsageError(
            "give --audience (a value your session tokens' aud carries, usually the app's"
            " client id) or, if the issuer cannot set one, --no-audience; not both"
        )
    record = SessionIssuer(
        project_id,
        issuer,
        jwks_url,
        audience,
        audience_optional=no_audience,
        tenant_role=tenant_role,
        tenant_permission=tenant_permission,
    )

    async def work(store: Any) -> bool:
        return await set_session_issuer(store, record)

    if not with_store(settings_from(**options), work):
        raise click.ClickException(f"no project {project_id!r}")
    click.echo(_issuer_json(record))


@click.command("console-link")
@store_options
@setting_option("host")
@setting_option("port", type=int)
@setting_option("public_url")
@project_option
def console_link(project_id: str, **options: Any) -> None:
    """Print a one-time sign-in URL for the console of a project (valid 5 minutes).

    The URL is the server's: give the same --host/--port/--public-url (or OUTBOUND_HOST,
    OUTBOUND_PORT, OUTBOUND_PUBLIC_URL) as to `outbound serve`."""
    from ..storage.console_sessions import ConsoleSessions

    settings = settings_from(**options)

    async def work(store: Any) -> str | None:
        if not await store.keys.project_exists(project_id):
            return None
        token: str = await ConsoleSessions(store.db).new_link(project_id)
        return token

    token = with_store(settings, work)
    if token is None:
        raise click.ClickException(f"no project {project_id!r}")
    click.echo(f"{settings.effective_public_url}/console/link?token={token}")
