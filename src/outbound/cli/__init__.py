"""The ``outbound`` command: thin — it parses options, builds settings, calls the library.

Two kinds of command. Those that only the operator may run (``serve``, ``init``, projects,
management keys, ``rekey``, ``audit verify``) open the store themselves, with the master key
(:mod:`.store`, through the server's own ``open_store``). The rest (apps, connections,
webhooks, the audit log) go through a running server's management API with a management key
(:mod:`.remote`), as the SDK does.
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
from .projects import console_link, init, projects
from .serve import serve
from .templates import templates
from .webhooks import webhooks

__all__ = ["main"]


@click.group()
@click.version_option(__version__, prog_name="outbound", message="%(prog)s %(version)s")
def main() -> None:
    """outbound: a self-hosted vault for outbound OAuth tokens."""


for command in (
    serve,
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
):
    main.add_command(command)
