"""``outbound audit list | tail | verify``.

``list`` and ``tail`` read through a running server's API (a management key, like ``apps``);
``verify`` checks the hash chain in the store itself, which needs the master key the chain is
keyed from — the point is not to trust the server's word for it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import click
import httpx

from .cli import _settings, _store_options, _with_store

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """Read and verify a project's audit log."""


def _server_options(fn: Any) -> Any:
    fn = click.option(
        "--management-key-env",
        metavar="VAR",
        default="OUTBOUND_MANAGEMENT_KEY",
        show_default=True,
        help="Name of the environment variable holding the project's management key.",
    )(fn)
    fn = click.option(
        "--project",
        "project_id",
        required=True,
        envvar="OUTBOUND_PROJECT_ID",
        show_envvar=True,
        help="Project id.",
    )(fn)
    fn = click.option(
        "--url",
        "server_url",
        envvar="OUTBOUND_URL",
        show_envvar=True,
        default="http://127.0.0.1:8080",
        show_default=True,
        help="Base URL of the running outbound server.",
    )(fn)
    for name, help_ in (
        ("--action", "Only this action (token.fetch, token.refresh, app.create …)."),
        ("--app-id", "Only events of this app."),
        ("--user-id", "Only events of this user."),
    ):
        fn = click.option(name, default=None, help=help_)(fn)
    return fn


def _pages(
    server_url: str, project_id: str, key_env: str, params: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Every event matching ``params``, following ``nextCursor``; stops at the newest."""
    key = os.environ.get(key_env, "")
    if not key:
        raise click.ClickException(
            f"the environment variable {key_env} (the management key) is not set"
        )
    url = server_url.rstrip("/") + "/v1/mgmt/outbound/audit"
    headers = {"Authorization": f"Bearer {project_id}:{key}"}
    query = {k: v for k, v in params.items() if v is not None}
    while True:
        try:
            response = httpx.get(url, params=query, headers=headers, timeout=30)
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"cannot reach the outbound server at {server_url} ({type(exc).__name__})"
            ) from None
        answer = response.json() if response.content else {}
        if response.status_code != 200:
            code = answer.get("errorCode", f"HTTP {response.status_code}")
            raise click.ClickException(f"{code}: {answer.get('errorMessage', '')}")
        yield from answer["events"]
        if not answer.get("nextCursor"):
            return
        query["cursor"] = answer["nextCursor"]


def _filters(action: str | None, app_id: str | None, user_id: str | None) -> dict[str, Any]:
    return {"action": action, "appId": app_id, "userId": user_id, "limit": 1000}


@audit.command("list")
@_server_options
@click.option("--since", default=None, help="From this time (epoch seconds or ISO 8601).")
@click.option("--until", default=None, help="Before this time (epoch seconds or ISO 8601).")
def audit_list(
    server_url: str,
    project_id: str,
    management_key_env: str,
    action: str | None,
    app_id: str | None,
    user_id: str | None,
    since: str | None,
    until: str | None,
) -> None:
    """Print the project's audit events, oldest first, one JSON object a line."""
    params = {**_filters(action, app_id, user_id), "since": since, "until": until}
    for item in _pages(server_url, project_id, management_key_env, params):
        click.echo(json.dumps(item))


@audit.command("tail")
@_server_options
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
    server_url: str,
    project_id: str,
    management_key_env: str,
    action: str | None,
    app_id: str | None,
    user_id: str | None,
    since_seconds: int,
    follow: bool,
    interval: float,
) -> None:
    """Print the latest audit events, and with --follow the new ones as they are written."""
    params: dict[str, Any] = {
        **_filters(action, app_id, user_id),
        "since": str(int(time.time()) - since_seconds),
    }
    while True:
        for item in _pages(server_url, project_id, management_key_env, params):
            click.echo(json.dumps(item))
            # resume after the newest printed event (events are written in seq order)
            params["cursor"] = str(item["seq"])
            params.pop("since", None)
        if not follow:
            return
        time.sleep(interval)


@audit.command("verify")
@_store_options
@click.option(
    "--project", "project_id", required=True, envvar="OUTBOUND_PROJECT_ID", help="Project id."
)
def audit_verify(project_id: str, **options: Any) -> None:
    """Check the project's audit hash chain in the store (needs the master key).

    Prints one JSON line; exits 1 naming the first edited, inserted or deleted event.
    """
    from .storage.audit_verify import verify_project

    async def work(store: Any) -> dict[str, Any]:
        report: dict[str, Any] = await verify_project(store, project_id)
        return report

    report = _with_store(_settings(**options), work)
    click.echo(json.dumps(report))
    if not report["ok"]:
        raise SystemExit(1)
