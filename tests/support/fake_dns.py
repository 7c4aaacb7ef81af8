"""Run ``outbound`` with host names resolved from a file the test rewrites while it runs:
a resolver the test controls, for the whole process.

    python -m tests.support.fake_dns HOSTS.json serve --data-dir …

``HOSTS.json`` maps names to addresses (``{"hook.example.com": ["127.0.0.2"]}``) and is read
again at every lookup, so a test changes a name's answer by rewriting it; other names resolve
as usual. It replaces ``socket.getaddrinfo``, which every resolution in the process ends in
(asyncio's and anyio's included): a guarded client and a plain ``httpx.AsyncClient`` get the
same answers, so a test that a delivery was refused tells the guard's work from a lookup
that merely failed. Nothing in the server knows about it. uvloop resolves in C, past
``socket.getaddrinfo``, so the process runs on asyncio's own loop (uvicorn's fallback when
uvloop cannot be imported); the guard does not depend on the loop.
"""

from __future__ import annotations

import json
import runpy
import socket
import sys
from pathlib import Path
from typing import Any

_system_getaddrinfo = socket.getaddrinfo


def install(hosts: Path) -> None:
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        table = json.loads(hosts.read_text())
        if isinstance(name, str) and name.rstrip(".").lower() in table:
            found = []
            for address in table[name.rstrip(".").lower()]:
                found += _system_getaddrinfo(address, port, *args, **kwargs)
            return found
        return _system_getaddrinfo(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


if __name__ == "__main__":
    install(Path(sys.argv[1]))
    sys.modules["uvloop"] = None  # type: ignore[assignment]  # an ImportError for uvicorn
    sys.argv = ["outbound", *sys.argv[2:]]
    runpy.run_module("outbound", run_name="__main__", alter_sys=True)
