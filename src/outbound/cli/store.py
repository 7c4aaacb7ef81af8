"""What the commands that work on the store itself share: options read from the server's
settings (each with its environment variable), and the store those settings name."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import click

from ..server.config import SECRET_SETTINGS, SETTINGS, Settings, env_name, secret_from_file

__all__ = [
    "deprecated_json_flag",
    "project_option",
    "renamed_option",
    "setting_option",
    "settings_from",
    "store_options",
    "with_store",
]

T = TypeVar("T")
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def setting_option(name: str, **extra: Any) -> Decorator:
    """The command-line option of the setting ``name``: its flag, variable, default and help."""
    setting = SETTINGS[name]
    default = setting.default
    return click.option(
        "--" + name.replace("_", "-"),
        name,
        envvar=env_name(name),
        default=str(default) if isinstance(default, Path) else default,
        show_default=bool(default) and name != "master_key",
        show_envvar=True,
        help=setting.metadata["help"],
        **extra,
    )


def _secret_file_option(name: str) -> Decorator:
    """``--master-key-file`` / ``--database-url-file``: the secret read from a file (the
    same as its ``OUTBOUND_…_FILE`` variable), so it is in neither the process list nor the
    environment."""
    flag = "--" + name.replace("_", "-")
    return click.option(
        flag + "-file",
        name + "_file",
        type=click.Path(dir_okay=False),
        default=None,
        help=f"A file holding the {flag} value (as {env_name(name)}_FILE does): the secret then"
        " shows in neither the process list nor the environment.",
    )


def store_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--data-dir, --database-url, --master-key (or their files) and --database-wait: what
    names a store and opens it."""
    for name in reversed(("data_dir", "database_url", "master_key", "database_wait")):
        if name in SECRET_SETTINGS:
            fn = _secret_file_option(name)(fn)
        fn = setting_option(name)(fn)
    return fn


project_option = click.option(
    "--project",
    "project_id",
    required=True,
    envvar="OUTBOUND_PROJECT_ID",
    show_envvar=True,
    help="Project id.",
)

# `init`, `projects create` and `keys create` took --json when their output was always one
# JSON line anyway; scripts written against 0.1.0 pass it, so it is accepted, hidden and
# deprecated, rather than refused.
deprecated_json_flag = click.option(
    "--json",
    "json",
    is_flag=True,
    hidden=True,
    deprecated="It changes nothing: the output is always one JSON line.",
)


def renamed_option(old: str, new: str, dest: str) -> Decorator:
    """Keep an option's old spelling working after a rename: ``old`` is hidden, warns, and
    fills ``dest`` (the new option's parameter) when the new spelling was not given."""
    hidden = f"{dest}__old"

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> Any:
            value = kwargs.pop(hidden, None)
            if value is not None:
                click.echo(f"Warning: {old} is deprecated; use {new}.", err=True)
                if kwargs.get(dest) is None:
                    kwargs[dest] = value
            return fn(*args, **kwargs)

        option = click.option(old, hidden, default=None, hidden=True, help=f"Old name of {new}.")
        return option(command)

    return decorate


def settings_from(**values: Any) -> Settings:
    """Settings from a command's options (the ones that are settings; the rest are ignored),
    and the secrets the command line and environment left unset from their files."""
    known = {f.name for f in fields(Settings)}
    kwargs = {k: v for k, v in values.items() if k in known and v is not None}
    _warn_if_on_command_line("master_key")
    for name in SECRET_SETTINGS:
        if name not in values:
            continue
        environ: Mapping[str, str] = os.environ
        path = values.get(name + "_file")
        if path:
            flag = "--" + name.replace("_", "-")
            if _on_command_line(name):
                raise click.UsageError(f"give {flag} or {flag}-file, not both")
            # The option names the file as its variable would, and takes its place.
            environ = {**os.environ, env_name(name) + "_FILE": path}
        try:
            from_file = secret_from_file(name, environ)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        if from_file is not None and not kwargs.get(name):  # the command line still wins
            kwargs[name] = from_file
    if "data_dir" in kwargs:
        kwargs["data_dir"] = Path(kwargs["data_dir"])
    return Settings(**kwargs)


def _on_command_line(name: str) -> bool:
    context = click.get_current_context(silent=True)
    if context is None:
        return False
    return context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def _warn_if_on_command_line(name: str) -> None:
    """A secret given as a command-line option sits in the process list, which every user of
    the machine can read: accepted (scripts rely on it), with a warning naming the way out."""
    if _on_command_line(name):
        flag = "--" + name.replace("_", "-")
        click.echo(
            f"warning: {flag} on the command line is visible to every user of this machine in"
            f" the process list; use {flag}-file (or {env_name(name)}_FILE) instead",
            err=True,
        )


class WrongKeyError(click.ClickException):
    """The settings name no key that opens this store: exit 2, as for a usage error."""

    exit_code = 2


def with_store(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store as the server does (migrating it first), run ``work(store)``, close it."""
    from ..server.open_store import open_store

    async def run() -> T:
        store = await open_store(settings)
        try:
            return await work(store)
        finally:
            await store.db.close()

    from ..storage.store_keys import StoreKeyMismatch

    try:
        return asyncio.run(run())
    except StoreKeyMismatch as exc:
        raise WrongKeyError(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
