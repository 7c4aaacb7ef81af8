"""The ``outbound`` command: thin — it parses options, builds settings, calls the library.

Two kinds of command. Those that only the operator may run (``serve``, ``init``, projects,
management keys, ``rekey``, ``audit verify``) open the store themselves, with the master key
(:mod:`.store`, through the server's own ``open_store``). The rest (apps, connections,
webhooks, the audit log) go through a running server's management API with a management key
(:mod:`.sdk`), through the SDK.
"""

from __future__ import annotations

import sys

try:
    import click
except ImportError:  # pragma: no cover - the SDK installs without the server's dependencies
    sys.exit("the outbound command needs the server extra: pip install 'outbound-vault[server]'")

from .._version import __version__
from .apps import apps
from .audit import audit
from .connections import connections
from .keys import keys, rekey
from .operate import check, migrate
from .projects import console_link, init, projects
from .proxy import proxy
from .serve import serve
from .templates import templates
from .webhooks import webhooks

__all__ = ["main"]


class _Main(click.Group):
    """The command group: an unexpected error is one line on stderr and exit code 1 (its
    traceback with ``--debug``); click's own errors and exits pass through as they are."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get(_DEBUG):
                raise
            lines = str(exc).strip().splitlines()
            detail = f": {lines[0]}" if lines else ""
            raise click.ClickException(
                f"{type(exc).__name__}{detail} (run `outbound --debug …` for the traceback)"
            ) from None


_DEBUG = "outbound.debug"


@click.group(cls=_Main)
@click.version_option(__version__, prog_name="outbound", message="%(prog)s %(version)s")
@click.option(
    "--debug",
    is_flag=True,
    envvar="OUTBOUND_DEBUG",
    show_envvar=True,
    help="Print the traceback of an unexpected error instead of one line.",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """outbound: a self-hosted vault for outbound OAuth tokens."""
    ctx.meta[_DEBUG] = debug


for command in (
    serve,
    migrate,
    check,
    init,
    rekey,
    projects,
    keys,
    console_link,
    templates,
    apps,
    audit,
    connections,
    webhooks,
    proxy,
):
    main.add_command(command)
