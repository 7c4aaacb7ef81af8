"""``outbound keys …`` (a project's management keys) and ``outbound rekey`` (the master key's
rotation): in the store itself."""

from __future__ import annotations

import json
from typing import Any

import click

from .projects import print_credentials
from .store import deprecated_json_flag, project_option, settings_from, store_options, with_store

__all__ = ["keys", "rekey"]


@click.group()
def keys() -> None:
    """Manage a project's management keys."""


@keys.command("create")
@store_options
@project_option
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
@deprecated_json_flag
def keys_create(
    project_id: str, name: str, fetch_only: bool, app_ids: tuple[str, ...], **options: Any
) -> None:
    """Create a management key (printed once).

    Prints one JSON line: {"projectId": …, "managementKey": …}.
    """
    if app_ids and not fetch_only:
        raise click.BadParameter("--app limits a --fetch-only key", param_hint="--app")
    for app_id in app_ids:
        if not app_id or len(app_id) > 256:
            raise click.BadParameter(f"{app_id!r} is not an app id", param_hint="--app")

    async def work(store: Any) -> tuple[str, str] | None:
        if not await store.keys.project_exists(project_id):
            return None
        _, key = await store.keys.create(project_id, name, fetch_only=fetch_only, app_ids=app_ids)
        return project_id, key

    result = with_store(settings_from(**options), work)
    if result is None:
        raise click.ClickException(f"no project {project_id!r}")
    print_credentials(*result)


@keys.command("list")
@store_options
@project_option
def keys_list(project_id: str, **options: Any) -> None:
    """List management keys (ids and state; the keys themselves are never stored)."""

    async def work(store: Any) -> list[Any]:
        keys: list[Any] = await store.keys.all(project_id)
        return keys

    for key in with_store(settings_from(**options), work):
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
@store_options
@project_option
@click.argument("key_id")
def keys_revoke(project_id: str, key_id: str, **options: Any) -> None:
    """Revoke a management key by id (it stops working at once)."""

    async def work(store: Any) -> bool:
        revoked: bool = await store.keys.revoke(project_id, key_id)
        return revoked

    if not with_store(settings_from(**options), work):
        raise click.ClickException(f"no live key {key_id!r} in project {project_id!r}")
    click.echo(json.dumps({"id": key_id, "revoked": True}))


@click.command()
@store_options
def rekey(**options: Any) -> None:
    """Re-seal every secret with the first master key, finishing a rotation.

    Put the new key first (OUTBOUND_MASTER_KEY=new,old), restart the servers, run this; then
    the old key can be removed. Safe while servers run. Prints one JSON line of counts.
    """
    from ..storage.rekey import rekey as rekey_store

    async def work(store: Any) -> dict[str, object]:
        report = await rekey_store(store)
        return report.to_json()

    report = with_store(settings_from(**options), work)
    click.echo(json.dumps(report))
    unreadable = report["unreadable"]
    if unreadable:
        assert isinstance(unreadable, list)
        raise click.ClickException(
            f"{len(unreadable)} value(s) open with no key in the list and were left as they"
            f" are: {', '.join(unreadable)}. Add the key they were sealed with, or delete or"
            " re-upload those rows; everything else was re-sealed."
        )
