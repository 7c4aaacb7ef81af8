"""What the commands that go through a running server share: where it is, which project, the
management key (read from an environment variable, never from the command line: command
lines show up in process lists and shell history), and one way to call it and read its
answers and errors.

The server's address reads the SDK's variable, ``OUTBOUND_BASE_URL``, so one environment
configures both; ``OUTBOUND_URL``, which the CLI read before, still works with a warning.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click
import httpx

from ..client._config import SETTINGS as SDK_SETTINGS
from .store import project_option

__all__ = ["PREFIX", "Server", "env_secret", "server_options"]

PREFIX = "/v1/mgmt/outbound"
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


@dataclass(frozen=True)
class Server:
    """A running outbound server, and the project and management key to call it with."""

    url: str
    project_id: str
    key_env: str

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One request; the answer's JSON, or a ClickException with the server's error."""
        key = env_secret(self.key_env, "management key")
        try:
            response = httpx.request(
                method,
                self.url.rstrip("/") + path,
                params=params,
                json=body,
                headers={"Authorization": f"Bearer {self.project_id}:{key}"},
                timeout=30,
            )
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"cannot reach the outbound server at {self.url} ({type(exc).__name__});"
                f" is `outbound serve` running? (--url / {URL_ENV})"
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code != 200:
            code = answer.get("errorCode", f"HTTP {response.status_code}")
            raise click.ClickException(
                f"{code}: {answer.get('errorMessage') or response.reason_phrase}"
            )
        return answer

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
        return fn(*args, server=server, **kw)

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
