"""``outbound serve --workers N``: N server processes on one port, under uvicorn's supervisor.

uvicorn binds the port once in the parent and starts each worker with ``spawn``: a fresh
interpreter that imports the app from a string, so nothing built in the parent (the app, the
listener's protocol class, the logging setup) reaches a worker. The parent puts the settings in
``OUTBOUND_WORKER_SETTINGS`` (JSON; the environment of a process is readable by its owner only,
unlike its command line), and each worker builds its app and protocol from them here.

Each worker is a server of its own on the shared database, as several servers on one database
already are: refresh leases make one refresh per token across them, webhook deliveries and
background refresh rounds are leased the same way.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from .config import Settings

__all__ = ["SETTINGS_VAR", "app", "export_settings", "http_protocol"]

SETTINGS_VAR = "OUTBOUND_WORKER_SETTINGS"


def export_settings(settings: Settings) -> None:
    """Hand ``settings`` to the workers the parent is about to spawn."""
    values = {name: str(v) if isinstance(v, Path) else v for name, v in asdict(settings).items()}
    os.environ[SETTINGS_VAR] = json.dumps(values)


@functools.cache
def _settings() -> Settings:
    values = json.loads(os.environ[SETTINGS_VAR])
    values["data_dir"] = Path(values["data_dir"])
    return Settings(**values)


def app() -> ASGIApp:
    """The worker's app (uvicorn's factory); sets up the worker's logging first."""
    from .app import create_app
    from .logs import configure

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
    from .listener import uvicorn_options

    protocol_class: type[asyncio.Protocol] = uvicorn_options(_settings())["http"]
    return protocol_class
