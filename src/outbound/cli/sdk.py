"""What the commands that go through a running server share: where it is, which project, the
management key (read from an environment variable, never from the command line: command
lines show up in process lists and shell history), and the SDK's client they call it with —
the CLI has no HTTP client of its own; the SDK's errors become the command's one-line errors.

The server's address reads the SDK's variable, ``OUTBOUND_BASE_URL``, so one environment
configures both; ``OUTBOUND_URL``, which the CLI read before, still works with a warning.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, Literal

import click

from ..client import (
    Client,
    ConfigurationError,
    OutboundApplication,
    OutboundError,
    TransportError,
)
from ..client._config import SETTINGS as SDK_SETTINGS
from ..client._core import ApiRequest
from ..client._requests import PREFIX
from .store import project_option

__all__ = ["PREFIX", "Server", "env_secret", "server_options"]

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = next(s.env for s in SDK_SETTINGS if s.argument == "base_url")
DEPRECATED_URL_ENV = "OUTBOUND_URL"
KEY_ENV = next(s.env for s in SDK_SETTINGS if s.argument == "management_key")
# Within every list endpoint's limit (1000), and small enough that a page of webhook
# deliveries with their attempts stays a modest answer.
PAGE_SIZE = 500


def env_secret(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise click.ClickException(f"the environment variable {variable} (the {what}) is not set")
    return value


class Server:
    """A running outbound server, called through the SDK (:class:`outbound.client.Client`)
    with the project and the management key the options name."""

    def __init__(self, url: str, project_id: str, key_env: str) -> None:
        self.url = url
        self.project_id = project_id
        self.key_env = key_env
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        """The SDK client, made at the first call (the key is read then, not before)."""
        if self._client is None:
            key = env_secret(self.key_env, "management key")
            # The CLI reports the server's answer at once (an operator runs the command
            # again): no retries, and the server's own 30-second bound per call.
            self._client = Client(self.project_id, key, self.url, timeout=30, max_retries=0)
        return self._client

    @property
    def apps(self) -> OutboundApplication:
        """The SDK's outbound application methods, for the calls it has a method for."""
        return self.client.mgmt.outbound_application

    def call(
        self,
        method: Literal["GET", "POST", "DELETE"],
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One management API request the SDK has no method for (apps by template, webhooks,
        the audit log), sent by the SDK's client all the same."""
        request = ApiRequest(method, path, body, params, idempotent=idempotent)
        return self.client._call(request)

    def pages(
        self, path: str, field: str, params: dict[str, str], limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The items of a keyset-paged list (``field`` of each page), following
        ``nextCursor`` from ``params['cursor']`` if given, up to ``limit`` items."""
        given = 0
        query = {**params, "limit": str(min(PAGE_SIZE, limit or PAGE_SIZE))}
        while True:
            answer = self.call("GET", path, params=query)
            for item in answer[field]:
                yield item
                given += 1
                if limit is not None and given >= limit:
                    return
            if not answer.get("nextCursor"):
                return
            query["cursor"] = answer["nextCursor"]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def error(self, exc: OutboundError) -> click.ClickException:
        """What the command prints for an SDK error: the server's error code and message, or
        that the server is not there."""
        if isinstance(exc, TransportError):
            cause = type(exc.__cause__ or exc).__name__
            return click.ClickException(
                f"cannot reach the outbound server at {self.url} ({cause});"
                f" is `outbound serve` running? (--url / {URL_ENV})"
            )
        if exc.status is None or isinstance(exc, ConfigurationError):
            return click.ClickException(exc.message)
        return click.ClickException(f"{exc.error_code or f'HTTP {exc.status}'}: {exc.message}")


def _url(given: str) -> str:
    source = click.get_current_context().get_parameter_source("server_url")
    deprecated = os.environ.get(DEPRECATED_URL_ENV)
    if source is click.core.ParameterSource.DEFAULT and deprecated:
        click.echo(
            f"Warning: {DEPRECATED_URL_ENV} is deprecated; set {URL_ENV} (the SDK reads it too).",
            err=True,
        )
        return deprecated
    return given


def server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--url, --project and --management-key-env, handed to the command as ``server``."""

    @functools.wraps(fn)
    def command(
        *args: Any, server_url: str, project_id: str, management_key_env: str, **kw: Any
    ) -> Any:
        server = Server(_url(server_url), project_id, management_key_env)
        try:
            return fn(*args, server=server, **kw)
        except OutboundError as exc:
            raise server.error(exc) from None
        finally:
            server.close()

    options = [
        click.option(
            "--url",
            "server_url",
            envvar=URL_ENV,
            show_envvar=True,
            default=DEFAULT_URL,
            show_default=True,
            help="Base URL of the running outbound server.",
        ),
        project_option,
        click.option(
            "--management-key-env",
            metavar="VAR",
            default=KEY_ENV,
            show_default=True,
            help="Name of the environment variable holding the project's management key.",
        ),
    ]
    decorated: Callable[..., Any] = command
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
