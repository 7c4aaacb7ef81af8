"""``outbound serve --workers N``: N server processes on one port, under uvicorn's supervisor.

uvicorn binds the port once in the parent and starts each worker with ``spawn``: a fresh
interpreter that imports the app from a string, so nothing built in the parent (the app, the
listener's protocol class, the logging setup) reaches a worker. The parent writes the settings
to a file only its user can read (0600, JSON) and puts the file's *path* in
``OUTBOUND_WORKER_SETTINGS_FILE``; each worker builds its app and protocol from that file here.
The settings hold the master key and the database URL with its password: in the environment
they would be inherited by every process the workers start and copied into crash reports, so
the parent also takes ``OUTBOUND_MASTER_KEY`` and ``OUTBOUND_DATABASE_URL`` out of the
environment it hands on. The file lives as long as the parent (a worker that dies is replaced
and reads it again) and is removed when it stops.

Each worker is a server of its own on the shared database, as several servers on one database
already are: refresh leases make one refresh per token across them, webhook deliveries and
background refresh rounds are leased the same way.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from .config import SECRET_SETTINGS, Settings, env_name

__all__ = ["SETTINGS_FILE_VAR", "app", "export_settings", "http_protocol"]

SETTINGS_FILE_VAR = "OUTBOUND_WORKER_SETTINGS_FILE"


def export_settings(settings: Settings) -> Path:
    """Hand ``settings`` to the workers the parent is about to spawn: the 0600 file they read
    (the caller removes it once the workers are done)."""
    values = {name: str(v) if isinstance(v, Path) else v for name, v in asdict(settings).items()}
    fd, name = tempfile.mkstemp(prefix="outbound-worker-settings-", suffix=".json")  # 0600
    with os.fdopen(fd, "w") as file:
        json.dump(values, file)
    os.environ[SETTINGS_FILE_VAR] = name
    for secret in SECRET_SETTINGS:  # the workers read them from the file
        os.environ.pop(env_name(secret), None)
    return Path(name)


@functools.cache
def _settings() -> Settings:
    values = json.loads(Path(os.environ[SETTINGS_FILE_VAR]).read_text())
    values["data_dir"] = Path(values["data_dir"])
    return Settings(**values)


def app() -> ASGIApp:
    """The worker's app (uvicorn's factory); sets up the worker's logging first."""
    from .app import create_app
    from .http.logs import configure

    settings = _settings()
    configure(settings.log_level, settings.log_format)
    return create_app(settings)


def http_protocol(**kwargs: Any) -> asyncio.Protocol:
    """The listener's protocol with the settings' header limits; uvicorn calls it per
    connection as it would a protocol class."""
    protocol: asyncio.Protocol = _protocol_class()(**kwargs)
    return protocol


@functools.cache
def _protocol_class() -> type[asyncio.Protocol]:
    from .http.listener import uvicorn_options

    protocol_class: type[asyncio.Protocol] = uvicorn_options(_settings())["http"]
    return protocol_class
