"""A second real authorization server for tests: django-oauth-toolkit on loopback
(``dot/provider.py`` in a process of its own).

    with DotServer() as dot:
        client = dot.add_client()             # a confidential client-credentials client
        dot.token_url                         # its /o/token/
        dot.grants()["success"]["client_credentials"]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support.oidc_server import OidcClient
from tests.support.server import free_port

PROVIDER = Path(__file__).parent / "dot" / "provider.py"


@dataclass
class DotServer:
    port: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _dir: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/o/token/"

    def __enter__(self) -> DotServer:
        self.port = self.port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="dot-")
        log = Path(self._dir.name) / "log"
        with log.open("wb") as out:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    str(PROVIDER),
                    "--port",
                    str(self.port),
                    "--db",
                    str(Path(self._dir.name) / "dot.sqlite3"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(PROVIDER.parent)},
            )
        deadline = time.monotonic() + 60
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"django-oauth-toolkit exited:\n{log.read_text()}")
            try:
                if httpx.get(self.issuer + "/__admin/grants", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"django-oauth-toolkit did not start:\n{log.read_text()}")
            time.sleep(0.1)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def add_client(self) -> OidcClient:
        """A confidential client allowed the client-credentials grant (secret per run)."""
        found = self._admin("POST", "/__admin/clients", {})
        return OidcClient(found["client_id"], found["client_secret"], ())

    def grants(self) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("GET", "/__admin/grants")
        return result

    def reset(self) -> None:
        self._admin("POST", "/__admin/reset", {})

    def active(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("POST", "/__admin/active", {"token": token})
        return result

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, self.issuer + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()
