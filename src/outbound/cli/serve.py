"""``outbound serve``: migrate the store, bootstrap a first project, run the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..server.config import Settings
from .store import setting_option, settings_from, store_options, with_store

__all__ = ["serve", "server_settings"]


def server_settings(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Every setting of a server: the store's, then what ``serve`` runs with. ``check`` takes
    the same, so that it checks what ``serve`` would start with."""
    for decorator in reversed(
        (
            store_options,
            setting_option("host"),
            setting_option("port", type=int),
            setting_option("public_url"),
            setting_option("refresh_margin", type=int),
            setting_option("refresh_ahead", type=click.IntRange(min=0)),
            setting_option("refresh_ahead_interval", type=click.FloatRange(min=0)),
            setting_option("refresh_idle_days", type=click.IntRange(min=0)),
            setting_option("provider_timeout", type=float),
            setting_option("proxy_timeout", type=click.FloatRange(min=0.1)),
            setting_option("proxy_max_retry_after", type=click.FloatRange(min=0)),
            setting_option("failing_after", type=click.FloatRange(min=0)),
            setting_option("webhook_retry_base", type=click.FloatRange(min=0.01)),
            setting_option("webhook_retry_for", type=click.FloatRange(min=0)),
            setting_option("webhook_timeout", type=click.FloatRange(min=0.1)),
            setting_option("webhook_retention", type=click.FloatRange(min=0)),
            setting_option("provider_allow_networks"),
            setting_option("webhook_allow_networks"),
            setting_option("refresh_commit_timeout", type=click.FloatRange(min=0)),
            setting_option("cors_origins"),
            setting_option("auth_failure_limit", type=click.IntRange(min=0)),
            setting_option("key_rate_limit", type=click.FloatRange(min=0)),
            setting_option("connect_pending_per_user", type=click.IntRange(min=0)),
            setting_option("connect_pending_per_project", type=click.IntRange(min=0)),
            setting_option("allowed_hosts"),
            setting_option("header_timeout", type=click.FloatRange(min=0.1)),
            setting_option("body_timeout", type=click.FloatRange(min=0)),
            setting_option("body_min_rate", type=click.FloatRange(min=1)),
            setting_option("max_connections_per_client", type=click.IntRange(min=0)),
            setting_option("keep_alive_timeout", type=click.IntRange(min=1)),
            setting_option("max_header_bytes", type=click.IntRange(min=1024)),
            setting_option("max_connections", type=click.IntRange(min=0)),
            setting_option("log_level", type=click.Choice(["debug", "info", "warning", "error"])),
            setting_option("log_format", type=click.Choice(["text", "json"])),
            setting_option("metrics_host"),
            setting_option("metrics_port", type=click.IntRange(min=0, max=65535)),
            setting_option("audit_retention_days", type=click.IntRange(min=0)),
            setting_option("audit_fetches", type=bool),
            setting_option("audit_flush_interval", type=click.FloatRange(min=0)),
            setting_option("audit_checkpoint_interval", type=click.FloatRange(min=0)),
        )
    ):
        fn = decorator(fn)
    return fn


@click.command()
@server_settings
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    envvar="OUTBOUND_WORKERS",
    show_envvar=True,
    show_default=True,
    help="Server processes on the port, sharing the database as several servers do (a worker"
    " that dies is replaced). Not with --metrics-port: each process would need a port.",
)
def serve(workers: int, **options: Any) -> None:
    """Start the server (migrating the store first).

    On a first start with an empty store it creates a project and a management key and prints
    them once.
    """
    import logging

    from ..server.http.logs import configure
    from ..storage import bootstrap

    settings = settings_from(**options)
    _check_before_start(settings, workers)
    configure(settings.log_level, settings.log_format)
    created = with_store(settings, bootstrap)
    base_url = settings.effective_public_url
    if created is not None:
        _print_first_project(*created, base_url)
    logging.getLogger("outbound.server").info(
        "outbound listening on %s — console: %s/console/ (a one-time sign-in link:"
        " `outbound console-link --project ID`); API reference: %s/openapi.json",
        base_url,
        base_url,
        base_url,
    )
    _run(settings, workers)


def _check_before_start(settings: Settings, workers: int) -> None:
    """Everything that can be known to fail, checked before the store is opened: a first
    start creates a project and prints its key, which must belong to a server that runs.
    (The store's own checks — its directory, a reachable database — run as it is opened.)"""
    from ..server.http.listener import check_can_listen

    if workers > 1 and settings.metrics_port:
        # Each process keeps its own counters and would need a listener of its own: one port
        # cannot show them all, so the operator picks (one process with metrics, or none).
        raise click.UsageError("--metrics-port cannot be combined with --workers above 1")
    try:
        settings.check()
        check_can_listen(settings.host, settings.port)
        if settings.metrics_port:
            check_can_listen(settings.host, settings.metrics_port, "--metrics-port")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _print_first_project(project_id: str, key: str, base_url: str) -> None:
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


def _run(settings: Settings, workers: int) -> None:
    """Serve until stopped: in this process, or in ``workers`` processes on the port."""
    import uvicorn

    from ..server import create_app
    from ..server.http.listener import uvicorn_options
    from ..server.workers import export_settings, http_protocol

    options = uvicorn_options(settings)
    handed: Path | None = None
    if workers == 1:
        app: Any = create_app(settings)
    else:
        # Each worker is a fresh interpreter (spawn): it imports its app and protocol by name
        # and reads the settings the parent exports. The bootstrap above ran once, here.
        handed = export_settings(settings)
        app = "outbound.server.workers:app"
        options.update(factory=True, workers=workers, http=http_protocol)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            # uvicorn's access log prints query strings, and OAuth callbacks carry codes in theirs.
            access_log=False,
            server_header=False,
            **options,
            # JSON: uvicorn's own loggers go through ours (its default config would print text).
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        )
    finally:
        if handed is not None:  # the workers' settings, master key included
            handed.unlink(missing_ok=True)
