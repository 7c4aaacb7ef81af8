"""The SDK's public surface: what it exports, that it matches the official SDK, what it imports."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from descope.management.outbound_application import OutboundApplication as DescopeSync
from descope.management.outbound_application_async import (
    OutboundApplicationAsync as DescopeAsync,
)

import outbound
import outbound.client
from outbound.client import AsyncOutboundApplication, OutboundApplication

OFFICIAL_METHODS = sorted(n for n in dir(DescopeSync) if not n.startswith("_"))


def test_package_exports() -> None:
    assert outbound.__all__ == [
        "AsyncClient",
        "AsyncDescopeClient",
        "BadRequestError",
        "Client",
        "ConfigurationError",
        "ConflictError",
        "DescopeClient",
        "NotFoundError",
        "OutboundError",
        "ProviderUnavailableError",
        "RateLimitedError",
        "ReconnectRequiredError",
        "TransportError",
        "UnauthorizedError",
        "__version__",
    ]
    assert outbound.DescopeClient is outbound.Client
    assert outbound.AsyncDescopeClient is outbound.AsyncClient
    for name in outbound.client.__all__:
        assert getattr(outbound.client, name).__module__.startswith("outbound.client")


EXTENSIONS = [
    "connect",
    "connect_device",
    "device_connect_status",
    "list_connections",
    "set_connection_metadata",
]


def test_every_official_method_is_there_plus_our_extensions() -> None:
    assert len(OFFICIAL_METHODS) == 18
    ours = sorted(n for n in dir(OutboundApplication) if not n.startswith("_"))
    ours_async = sorted(n for n in dir(AsyncOutboundApplication) if not n.startswith("_"))
    assert ours == ours_async == sorted([*OFFICIAL_METHODS, *EXTENSIONS])


def _shape(function: Callable[..., Any]) -> list[tuple[str, object, object]]:
    """Parameter names, kinds and defaults: what callers depend on (not annotations)."""
    parameters = inspect.signature(function).parameters.values()
    return [(p.name, p.kind, p.default) for p in parameters]


# Keyword-only additions of ours: they cannot shift a positional argument of the official SDK.
EXTRAS = {
    "create_application": [
        "use_dcr",
        "dcr_url",
        "resource",
        "api_base_url",
        "grant_type",
        "github_app_id",
        "private_key",
    ],
    "update_application": [
        "use_dcr",
        "dcr_url",
        "resource",
        "api_base_url",
        "grant_type",
        "github_app_id",
        "private_key",
    ],
    "upload_user_api_key": ["metadata"],
    "upload_tenant_api_key": ["metadata"],
    "upload_user_token": ["metadata"],
    "upload_tenant_token": ["metadata"],
}


def _official_part(method: str, function: Callable[..., Any]) -> list[tuple[str, object, object]]:
    shape = _shape(function)
    extras = [p for p in shape if p[0] in EXTRAS.get(method, [])]
    assert [(name, kind, default) for name, kind, default in extras] == [
        (name, inspect.Parameter.KEYWORD_ONLY, None) for name in EXTRAS.get(method, [])
    ]
    return [p for p in shape if p not in extras]


@pytest.mark.parametrize("method", OFFICIAL_METHODS)
def test_same_parameters_in_the_same_order_as_the_official_sdk(method: str) -> None:
    ours = _official_part(method, getattr(OutboundApplication, method))
    assert ours == _shape(getattr(DescopeSync, method))
    ours_async = _official_part(method, getattr(AsyncOutboundApplication, method))
    assert ours_async == _shape(getattr(DescopeAsync, method))


def test_async_twins_are_coroutines_and_sync_ones_are_not() -> None:
    for name in [*OFFICIAL_METHODS, *EXTENSIONS]:
        assert inspect.iscoroutinefunction(getattr(AsyncOutboundApplication, name)), name
        assert not inspect.iscoroutinefunction(getattr(OutboundApplication, name)), name
        assert getattr(AsyncOutboundApplication, name).__doc__ == (
            getattr(OutboundApplication, name).__doc__
        )


def test_connect_signature() -> None:
    assert [p[0] for p in _shape(OutboundApplication.connect)] == [
        "self",
        "app_id",
        "user_id",
        "tenant_id",
        "redirect_url",
        "scopes",
        "external_identifier",
        "metadata",
    ]


def test_list_connections_signature_is_the_same_sync_and_async() -> None:
    shape = _shape(OutboundApplication.list_connections)
    assert [p[0] for p in shape] == [
        "self",
        "app_id",
        "user_id",
        "tenant_id",
        "status",
        "limit",
        "cursor",
        "metadata",
    ]
    assert _shape(AsyncOutboundApplication.list_connections) == shape


def test_client_and_transport_twins_take_the_same_settings() -> None:
    """The sync and async clients (and their pooled transports) are written twice; a setting
    added to one twin and forgotten in the other fails here."""
    from outbound.client._transport import AsyncPooledTransport, PooledTransport

    assert _shape(outbound.AsyncClient.__init__) == _shape(outbound.Client.__init__)
    assert [p[0] for p in _shape(outbound.Client.__init__)][1:4] == [
        "project_id",
        "management_key",
        "base_url",
    ]
    assert _shape(AsyncPooledTransport.__init__) == _shape(PooledTransport.__init__)

    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    # close/aclose follow httpx's names for the two kinds of client
    assert public(outbound.Client) - {"close"} == public(outbound.AsyncClient) - {"aclose"}
    assert "close" in public(outbound.Client) and "aclose" in public(outbound.AsyncClient)


def test_importing_the_sdk_loads_no_server_dependency() -> None:
    # (click is left out: httpx itself imports it for its CLI when it happens to be installed)
    code = (
        "import sys, outbound\n"
        "client = outbound.Client('P1', 'k', 'http://127.0.0.1:1')\n"
        "heavy = {'starlette', 'uvicorn', 'msgspec', 'sqlalchemy', 'alembic', 'psycopg',"
        " 'cryptography', 'orjson'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_sdk_runs_where_only_httpx_is_installed(tmp_path: Path) -> None:
    """Block every server dependency at import time, then use the SDK."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'starlette', 'uvicorn', 'msgspec', 'sqlalchemy',"
        " 'alembic', 'psycopg', 'cryptography', 'orjson', 'click'}:\n"
        "            raise ImportError(name + ' is blocked: the SDK must not need it')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    code = (
        "from outbound import DescopeClient, TransportError\n"
        "client = DescopeClient(project_id='P1', management_key='k', base_url='http://127.0.0.1:9')\n"
        "try:\n"
        "    client.mgmt.outbound_application.fetch_token('app', 'user')\n"
        "except TransportError as exc:\n"
        "    print('ok', type(exc).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
    )
    assert out.stdout.strip() == "ok TransportError", out.stderr


def test_the_package_is_typed() -> None:
    assert (Path(outbound.__file__).parent / "py.typed").exists()


def test_the_by_token_client_has_the_official_methods_with_the_same_parameters() -> None:
    from descope.management.outbound_application import (
        OutboundApplicationByToken as DescopeByToken,
    )
    from descope.management.outbound_application_async import (
        OutboundApplicationByTokenAsync as DescopeByTokenAsync,
    )

    from outbound.client import AsyncOutboundApplicationByToken, OutboundApplicationByToken

    official = sorted(
        n for n in dir(DescopeByToken) if not n.startswith("_") and n.startswith("fetch")
    )
    assert len(official) == 4
    for ours in (OutboundApplicationByToken, AsyncOutboundApplicationByToken):
        public = sorted(n for n in dir(ours) if not n.startswith("_"))
        assert public == sorted([*official, "token_exchange"])
    for name in official:
        assert _shape(getattr(OutboundApplicationByToken, name)) == _shape(
            getattr(DescopeByToken, name)
        )
        assert _shape(getattr(AsyncOutboundApplicationByToken, name)) == _shape(
            getattr(DescopeByTokenAsync, name)
        )
    for name in [*official, "token_exchange"]:
        assert inspect.iscoroutinefunction(getattr(AsyncOutboundApplicationByToken, name))
        assert not inspect.iscoroutinefunction(getattr(OutboundApplicationByToken, name))
