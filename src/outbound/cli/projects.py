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

# storage.session_issuers.FETCH_SCOPE, without importing the store at start-up
FETCH_SCOPE = "outbound.token.fetch"

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


@projects.command("set-session-issuer")
@store_options
@project_option
@click.option("--issuer", required=True, help="The tokens' iss, exactly.")
@click.option("--jwks-url", required=True, help="Where the issuer publishes its signing keys.")
@click.option(
    "--audience",
    multiple=True,
    help="A value the tokens' aud must contain (repeat to accept any of several).",
)
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
    " whole tenant (tenantLevel) from the browser, or fetch its tenant-level tokens.",
)
@click.option(
    "--tenant-permission",
    default="",
    help="The permission that lets a user connect a whole tenant from the browser, or fetch its"
    " tenant-level tokens. Without --tenant-role or --tenant-permission, both are off.",
)
@click.option(
    "--fetch-scope",
    default=FETCH_SCOPE,
    show_default=True,
    help="The scope an access token needs to fetch its own subject's tokens (Bearer"
    " <projectId>:<JWT> on the fetch paths); '' turns delegated fetch off for this issuer.",
)
@click.option(
    "--scope-claim",
    default="",
    help="The claim holding the token's scopes (default: scope, space-separated, or scp, a list).",
)
@click.option(
    "--subject-claim",
    default="sub",
    show_default=True,
    help="The claim a delegated fetch's userId must equal.",
)
@click.option(
    "--tenant-claim",
    default="tenants",
    show_default=True,
    help="The claim naming the user's tenants (an object keyed by tenant id, or a list).",
)
@click.option(
    "--add",
    "keep_others",
    is_flag=True,
    help="Trust this issuer besides the project's others (without it, it replaces them all;"
    " an issuer already trusted is updated either way).",
)
def projects_set_session_issuer(
    project_id: str,
    issuer: str,
    jwks_url: str,
    audience: tuple[str, ...],
    no_audience: bool,
    keep_others: bool,
    **options: Any,
) -> None:
    """Accept end users' tokens from this issuer: session tokens on
    POST /v1/outbound/oauth/connect, access tokens for delegated fetches."""
    from urllib.parse import urlsplit

    from ..storage.session_issuers import SessionIssuer, set_session_issuer

    for name, url in (("--issuer", issuer), ("--jwks-url", jwks_url)):
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint=name)
    if bool(audience) == no_audience:
        raise click.UsageError(
            "give --audience (a value your tokens' aud carries, usually the app's client id or"
            " the vault's URL) or, if the issuer cannot set one, --no-audience; not both"
        )
    if any(not value or " " in value for value in audience):
        raise click.BadParameter("an audience is one non-empty word", param_hint="--audience")
    policy = {
        name: options.pop(name)
        for name in (
            "tenant_role",
            "tenant_permission",
            "fetch_scope",
            "scope_claim",
            "subject_claim",
            "tenant_claim",
        )
    }
    record = SessionIssuer(
        project_id, issuer, jwks_url, " ".join(audience), audience_optional=no_audience, **policy
    )

    async def work(store: Any) -> bool:
        return await set_session_issuer(store, record, keep_others=keep_others)

    if not with_store(settings_from(**options), work):
        raise click.ClickException(f"no project {project_id!r}")
    click.echo(json.dumps(_issuer_json(record)))


def _issuer_json(record: Any) -> dict[str, Any]:
    return {
        "projectId": record.project_id,
        "issuer": record.issuer,
        "jwksUrl": record.jwks_url,
        "audience": record.audience,
        "noAudience": record.audience_optional,
        "tenantRole": record.tenant_role,
        "tenantPermission": record.tenant_permission,
        "fetchScope": record.fetch_scope,
        "scopeClaim": record.scope_claim,
        "subjectClaim": record.subject_claim,
        "tenantClaim": record.tenant_claim,
    }


@projects.command("session-issuers")
@store_options
@project_option
def projects_session_issuers(project_id: str, **options: Any) -> None:
    """List the issuers whose tokens the project accepts, one JSON line each."""
    from ..storage.session_issuers import list_session_issuers

    async def work(store: Any) -> list[Any]:
        return await list_session_issuers(store, project_id)

    for record in with_store(settings_from(**options), work):
        click.echo(json.dumps(_issuer_json(record)))


@projects.command("remove-session-issuer")
@store_options
@project_option
@click.option("--issuer", required=True, help="The issuer's iss, exactly as set.")
def projects_remove_session_issuer(project_id: str, issuer: str, **options: Any) -> None:
    """Stop accepting tokens from this issuer."""
    from ..storage.session_issuers import remove_session_issuer

    async def work(store: Any) -> bool:
        return await remove_session_issuer(store, project_id, issuer)

    if not with_store(settings_from(**options), work):
        raise click.ClickException(f"project {project_id!r} has no issuer {issuer!r}")
    click.echo(json.dumps({"projectId": project_id, "issuer": issuer, "removed": True}))


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


# The name issue 20 asked for, kept beside the plural one: both list the project's issuers.
projects.add_command(projects_session_issuers, "show-session-issuer")
