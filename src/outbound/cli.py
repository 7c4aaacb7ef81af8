"""The ``outbound`` command: thin — it parses options, builds settings, calls the library."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

try:
    import click
except ImportError:  # pragma: no cover - the SDK installs without the server's dependencies
    sys.exit("the outbound command needs the server extra: pip install 'outbound[server]'")

from ._version import __version__
from .server.config import SETTINGS, Settings, env_name

T = TypeVar("T")


def _option(name: str, **extra: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    setting = SETTINGS[name]
    flag = "--" + name.replace("_", "-")
    default = setting.default
    return click.option(
        flag,
        name,
        envvar=env_name(name),
        default=str(default) if isinstance(default, Path) else default,
        show_default=bool(default) and name != "master_key",
        show_envvar=True,
        help=setting.metadata["help"],
        **extra,
    )


def _store_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for name in reversed(("data_dir", "database_url", "master_key")):
        fn = _option(name)(fn)
    return fn


def _settings(**values: Any) -> Settings:
    known = {f.name for f in fields(Settings)}
    kwargs = {k: v for k, v in values.items() if k in known and v is not None}
    if "data_dir" in kwargs:
        kwargs["data_dir"] = Path(kwargs["data_dir"])
    return Settings(**kwargs)


def _key_dir(settings: Settings) -> Path | None:
    # A key file serves the embedded default only: servers sharing PostgreSQL may run on
    # several machines, and each would generate a key of its own.
    return None if settings.database.is_postgres else settings.data_dir


def _with_store(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Migrate the store, open it, run ``work(store)``, close it."""
    from .crypto import load_keyring
    from .storage import Store, connect, upgrade
    from .storage.files import prepare_data_dir

    async def run() -> T:
        url = settings.database
        if not url.is_postgres:
            prepare_data_dir(settings.data_dir, url)
        await asyncio.to_thread(upgrade, url)
        db = await connect(url)
        try:
            return await work(
                Store(db, load_keyring(settings.master_key or None, _key_dir(settings)))
            )
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _print_credentials(project_id: str, key: str) -> None:
    click.echo(json.dumps({"projectId": project_id, "managementKey": key}))


@click.group()
@click.version_option(__version__, prog_name="outbound", message="%(prog)s %(version)s")
def main() -> None:
    """outbound: a self-hosted vault for outbound OAuth tokens."""


@main.command()
@_store_options
@_option("host")
@_option("port", type=int)
@_option("public_url")
@_option("refresh_margin", type=int)
@_option("refresh_ahead", type=click.IntRange(min=0))
@_option("refresh_ahead_interval", type=click.FloatRange(min=0))
@_option("refresh_idle_days", type=click.IntRange(min=0))
@_option("provider_timeout", type=float)
@_option("failing_after", type=click.FloatRange(min=0))
@_option("webhook_retry_base", type=click.FloatRange(min=0.01))
@_option("webhook_retry_for", type=click.FloatRange(min=0))
@_option("provider_allow_networks")
@_option("refresh_commit_timeout", type=click.FloatRange(min=0))
@_option("cors_origins")
@_option("auth_failure_limit", type=click.IntRange(min=0))
@_option("key_rate_limit", type=click.FloatRange(min=0))
@_option("connect_pending_per_user", type=click.IntRange(min=0))
@_option("connect_pending_per_project", type=click.IntRange(min=0))
@_option("allowed_hosts")
@_option("header_timeout", type=click.FloatRange(min=0.1))
@_option("keep_alive_timeout", type=click.IntRange(min=1))
@_option("max_header_bytes", type=click.IntRange(min=1024))
@_option("max_connections", type=click.IntRange(min=0))
@_option("log_level", type=click.Choice(["debug", "info", "warning", "error"]))
@_option("log_format", type=click.Choice(["text", "json"]))
@_option("metrics_port", type=click.IntRange(min=0, max=65535))
@_option("audit_retention_days", type=click.IntRange(min=0))
@_option("audit_fetches", type=bool)
@_option("audit_flush_interval", type=click.FloatRange(min=0))
def serve(**options: Any) -> None:
    """Start the server (migrating the store first).

    On a first start with an empty store it creates a project and a management key and prints
    them once.
    """

    import logging

    import uvicorn

    from .server import create_app
    from .server.listener import uvicorn_options
    from .server.logs import configure
    from .storage import bootstrap

    settings = _settings(**options)
    try:
        settings.network_policy  # noqa: B018 - refuse a malformed network before starting
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    configure(settings.log_level, settings.log_format)
    created = _with_store(settings, bootstrap)
    if created is not None:
        project_id, key = created
        base_url = settings.effective_public_url
        click.echo(
            "\nA new project was created. The management key is shown once; keep it safe.\n\n"
            f"  project id:      {project_id}\n"
            f"  management key:  {key}\n\n"
            "Use it from Python:\n\n"
            "  from outbound import DescopeClient\n"
            f"  client = DescopeClient(project_id={project_id!r},\n"
            "                         management_key='<the key above>',\n"
            f"                         base_url={base_url!r})\n"
            "  client.mgmt.outbound_application.load_all_applications()\n",
            err=True,
        )
    logging.getLogger("outbound.server").info(
        "outbound listening on %s", settings.effective_public_url
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # uvicorn's access log prints query strings, and OAuth callbacks carry codes in theirs.
        access_log=False,
        server_header=False,
        **uvicorn_options(settings),
        # JSON: uvicorn's own loggers go through ours (its default config would print text).
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    )


@main.command()
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line (the only format).")
def init(as_json: bool, **options: Any) -> None:
    """Prepare the store and create a new project with a management key."""

    async def work(store: Any) -> tuple[str, str]:
        project_id = await store.create_project()
        _, key = await store.create_management_key(project_id, "init")
        return project_id, key

    _print_credentials(*_with_store(_settings(**options), work))


@main.command()
@_store_options
def rekey(**options: Any) -> None:
    """Re-seal every secret with the first master key, finishing a rotation.

    Put the new key first (OUTBOUND_MASTER_KEY=new,old), restart the servers, run this; then
    the old key can be removed. Safe while servers run. Prints one JSON line of counts.
    """
    from .storage.rekey import rekey as rekey_store

    async def work(store: Any) -> dict[str, object]:
        report = await rekey_store(store)
        return report.to_json()

    report = _with_store(_settings(**options), work)
    click.echo(json.dumps(report))
    unreadable = report["unreadable"]
    if unreadable:
        assert isinstance(unreadable, list)
        raise click.ClickException(
            f"{len(unreadable)} value(s) open with no key in the list and were left as they"
            f" are: {', '.join(unreadable)}. Add the key they were sealed with, or delete or"
            " re-upload those rows; everything else was re-sealed."
        )


@main.group()
def projects() -> None:
    """Manage projects."""


@projects.command("create")
@_store_options
@click.option("--name", default="", help="A name for the project.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line (the only format).")
def projects_create(name: str, as_json: bool, **options: Any) -> None:
    """Create a project and its first management key."""

    async def work(store: Any) -> tuple[str, str]:
        project_id = await store.create_project(name)
        _, key = await store.create_management_key(project_id, "first")
        return project_id, key

    _print_credentials(*_with_store(_settings(**options), work))


@projects.command("set-session-issuer")
@_store_options
@click.option(
    "--project", "project_id", required=True, envvar="OUTBOUND_PROJECT_ID", help="Project id."
)
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

    from .storage.session_issuers import SessionIssuer, set_session_issuer

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

    if not _with_store(_settings(**options), work):
        raise click.ClickException(f"no project {project_id!r}")
    click.echo(
        json.dumps(
            {
                "projectId": project_id,
                "issuer": issuer,
                "jwksUrl": jwks_url,
                "audience": audience,
                "noAudience": no_audience,
                "tenantRole": tenant_role,
                "tenantPermission": tenant_permission,
            }
        )
    )


@main.group()
def keys() -> None:
    """Manage a project's management keys."""


@keys.command("create")
@_store_options
@click.option(
    "--project", "project_id", required=True, envvar="OUTBOUND_PROJECT_ID", help="Project id."
)
@click.option("--name", default="", help="A name to recognise the key by.")
@click.option(
    "--fetch-only",
    is_flag=True,
    help="The key may only fetch tokens (every other request answers 403 E130403).",
)
@click.option(
    "--app",
    "app_ids",
    multiple=True,
    help="With --fetch-only: the key fetches tokens of this app only (repeat for more).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line (the only format).")
def keys_create(
    project_id: str,
    name: str,
    fetch_only: bool,
    app_ids: tuple[str, ...],
    as_json: bool,
    **options: Any,
) -> None:
    """Create a management key (printed once)."""
    if app_ids and not fetch_only:
        raise click.BadParameter("--app limits a --fetch-only key", param_hint="--app")
    for app_id in app_ids:
        if not app_id or len(app_id) > 256:
            raise click.BadParameter(f"{app_id!r} is not an app id", param_hint="--app")

    async def work(store: Any) -> tuple[str, str] | None:
        if not await store.project_exists(project_id):
            return None
        _, key = await store.create_management_key(
            project_id, name, fetch_only=fetch_only, app_ids=app_ids
        )
        return project_id, key

    result = _with_store(_settings(**options), work)
    if result is None:
        raise click.ClickException(f"no project {project_id!r}")
    _print_credentials(*result)


@keys.command("list")
@_store_options
@click.option(
    "--project", "project_id", required=True, envvar="OUTBOUND_PROJECT_ID", help="Project id."
)
def keys_list(project_id: str, **options: Any) -> None:
    """List management keys (ids and state; the keys themselves are never stored)."""

    async def work(store: Any) -> list[Any]:
        keys: list[Any] = await store.list_management_keys(project_id)
        return keys

    for key in _with_store(_settings(**options), work):
        click.echo(
            json.dumps(
                {
                    "id": key.id,
                    "name": key.name,
                    "createdAt": key.created_at,
                    "revoked": key.revoked_at is not None,
                    "fetchOnly": key.fetch_only,
                    "appIds": list(key.app_ids),
                }
            )
        )


@keys.command("revoke")
@_store_options
@click.option(
    "--project", "project_id", required=True, envvar="OUTBOUND_PROJECT_ID", help="Project id."
)
@click.argument("key_id")
def keys_revoke(project_id: str, key_id: str, **options: Any) -> None:
    """Revoke a management key by id (it stops working at once)."""

    async def work(store: Any) -> bool:
        revoked: bool = await store.revoke_management_key(project_id, key_id)
        return revoked

    if not _with_store(_settings(**options), work):
        raise click.ClickException(f"no live key {key_id!r} in project {project_id!r}")
    click.echo(json.dumps({"id": key_id, "revoked": True}))


@main.command("console-link")
@_store_options
@_option("public_url")
@click.option(
    "--project", "project_id", required=True, envvar="OUTBOUND_PROJECT_ID", help="Project id."
)
def console_link(project_id: str, **options: Any) -> None:
    """Print a one-time sign-in URL for the console of a project (valid 5 minutes)."""
    from .storage.console_sessions import ConsoleSessions

    settings = _settings(**options)

    async def work(store: Any) -> str | None:
        if not await store.project_exists(project_id):
            return None
        token: str = await ConsoleSessions(store.db).new_link(project_id)
        return token

    token = _with_store(settings, work)
    if token is None:
        raise click.ClickException(f"no project {project_id!r}")
    click.echo(f"{settings.effective_public_url}/console/link?token={token}")


from .cli_audit import audit  # noqa: E402 - attached after the group exists
from .cli_signals import connections, webhooks  # noqa: E402
from .cli_templates import apps, templates  # noqa: E402 - attached after the group exists

main.add_command(templates)
main.add_command(apps)
main.add_command(audit)
main.add_command(connections)
main.add_command(webhooks)

if __name__ == "__main__":  # pragma: no cover
    main()
