"""``outbound audit list | tail | verify | checkpoint``.

``list`` and ``tail`` read through a running server's API (a management key, like ``apps``);
``verify`` and ``checkpoint`` read the hash chain in the store itself, which needs the master
key the chain is keyed from — the point is not to trust the server's word for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import click

from .sdk import PREFIX, Server, server_options
from .store import project_option, renamed_option, settings_from, store_options, with_store

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """Read and verify a project's audit log."""


def _filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--action, and --app/--user spelled as on every other command (the 0.1 spellings
    --app-id/--user-id still work, hidden, with a warning)."""
    fn = renamed_option("--user-id", "--user", "user_id")(fn)
    fn = renamed_option("--app-id", "--app", "app_id")(fn)
    for decls, help_ in (
        (("--user", "user_id"), "Only events of this user."),
        (("--app", "app_id"), "Only events of this app."),
        (("--action",), "Only this action (token.fetch, token.refresh, app.create …)."),
    ):
        fn = click.option(*decls, default=None, help=help_)(fn)
    return fn


def _filters(action: str | None, app_id: str | None, user_id: str | None) -> dict[str, str]:
    given = {"action": action, "appId": app_id, "userId": user_id}
    return {k: v for k, v in given.items() if v is not None}


@audit.command("list")
@server_options
@_filter_options
@click.option("--since", default=None, help="From this time (epoch seconds or ISO 8601).")
@click.option("--until", default=None, help="Before this time (epoch seconds or ISO 8601).")
def audit_list(
    server: Server,
    action: str | None,
    app_id: str | None,
    user_id: str | None,
    since: str | None,
    until: str | None,
) -> None:
    """Print the project's audit events, oldest first, one JSON object a line."""
    params = _filters(action, app_id, user_id)
    params.update({k: v for k, v in (("since", since), ("until", until)) if v is not None})
    for item in server.pages(f"{PREFIX}/audit", "events", params):
        click.echo(json.dumps(item))


@audit.command("tail")
@server_options
@_filter_options
@click.option(
    "--since-seconds",
    default=300,
    show_default=True,
    type=click.IntRange(min=0),
    help="Start with the events of this many seconds back.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they come.")
@click.option(
    "--interval", default=1.0, show_default=True, type=float, help="Seconds between polls."
)
def audit_tail(
    server: Server,
    action: str | None,
    app_id: str | None,
    user_id: str | None,
    since_seconds: int,
    follow: bool,
    interval: float,
) -> None:
    """Print the latest audit events, and with --follow the new ones as they are written."""
    params = {**_filters(action, app_id, user_id), "since": str(int(time.time()) - since_seconds)}
    while True:
        for item in server.pages(f"{PREFIX}/audit", "events", params):
            click.echo(json.dumps(item))
            # resume after the newest printed event (events are written in seq order)
            params["afterSeq"] = str(item["seq"])
            params.pop("since", None)
        if not follow:
            return
        time.sleep(interval)


def _expected(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> Any:
    from ..storage.audit_checkpoints import parse_expected

    try:
        return [parse_expected(value) for value in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit.command("verify")
@store_options
@project_option
@click.option(
    "--expect",
    "expected",
    multiple=True,
    metavar="SEQ:HASH",
    callback=_expected,
    help="A checkpoint published earlier (`outbound audit checkpoint`, the server's log, the"
    " audit.checkpoint webhook event) the chain must still hold; repeatable.",
)
def audit_verify(project_id: str, expected: list[tuple[int, str]], **options: Any) -> None:
    """Check the project's audit hash chain in the store (needs the master key).

    Prints one JSON line; exits 1 naming the first edited, inserted or deleted event, or the
    first expected checkpoint the chain no longer holds (deleted or replaced events).
    """
    from ..storage.audit_verify import verify_project

    async def work(store: Any) -> dict[str, Any]:
        report: dict[str, Any] = await verify_project(store, project_id, expected)
        return report

    report = with_store(settings_from(**options), work)
    click.echo(json.dumps(report))
    if not report["ok"]:
        raise SystemExit(1)


@audit.command("checkpoint")
@store_options
@project_option
def audit_checkpoint(project_id: str, **options: Any) -> None:
    """Print the project's audit chain position, {seq, hash}, to keep outside the store.

    `outbound audit verify --expect SEQ:HASH` later fails if the chain no longer holds it:
    the deletion of the newest events (or the whole chain) that the chain alone cannot show.
    """
    from ..storage.audit_checkpoints import current

    async def work(store: Any) -> Any:
        await store.audit.flush()
        return await current(store.db, project_id)

    point = with_store(settings_from(**options), work)
    if point is None:
        raise click.ClickException(f"project {project_id!r} has no audit events")
    click.echo(json.dumps(point.to_json()))
