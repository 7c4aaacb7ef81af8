"""A provider's API for the proxy's tests and benchmark: a small ASGI app run by uvicorn in a
process of its own (``python -m tests.support.upstream_api PORT [HOST]``), so that streaming a
gigabyte through the vault measures the vault's memory, not this server's.

Every request is counted (``GET /__hits`` → ``{"total": n, "paths": {path: n}}``,
``POST /__reset``). Endpoints:

- ``/echo/...`` (any method): the request as JSON — method, raw path, query, headers, body
  length and SHA-256;
- ``/bytes?n=N``: N bytes (zeros), streamed in 64 KiB chunks, with a Content-Length;
- ``/upload`` (POST/PUT): reads the body and answers its length and SHA-256;
- ``/script/{key}?statuses=429,503,200&retry_after=1``: the n-th call with this key answers
  the n-th status (the last one from then on), with ``Retry-After`` on 429/503 when given;
- ``/bearer/{token}``: 200 when ``Authorization: Bearer {token}``, else 401;
- ``/headers``: an answer carrying hop-by-hop headers, ``Set-Cookie`` and ordinary ones;
- ``/fast``: a tiny JSON answer (the benchmark's call).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx

from tests.support.server import REPO, free_port

_CHUNK = b"\0" * 65536
hits: Counter[str] = Counter()
scripts: Counter[str] = Counter()


async def _read(receive: Any) -> tuple[int, str]:
    size, digest = 0, hashlib.sha256()
    while True:
        message = await receive()
        body = message.get("body", b"")
        size += len(body)
        digest.update(body)
        if not message.get("more_body", False):
            return size, digest.hexdigest()


async def _json(send: Any, status: int, content: Any, headers: list[Any] | None = None) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _bytes(send: Any, count: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", str(count).encode()),
            ],
        }
    )
    while count > 0:
        chunk = _CHUNK if count >= len(_CHUNK) else _CHUNK[:count]
        count -= len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": count > 0})


async def _script(send: Any, key: str, query: dict[str, list[str]]) -> None:
    statuses = [int(s) for s in query.get("statuses", ["200"])[0].split(",")]
    scripts[key] += 1
    status = statuses[min(scripts[key], len(statuses)) - 1]
    headers = []
    if status in (429, 503) and "retry_after" in query:
        headers.append((b"retry-after", query["retry_after"][0].encode()))
    await _json(send, status, {"call": scripts[key], "status": status}, headers)


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path: str = scope["path"]
    query = parse_qs(scope["query_string"].decode())
    if path == "/__hits":
        await _json(send, 200, {"total": sum(hits.values()), "paths": dict(hits)})
        return
    if path == "/__reset":
        hits.clear()
        scripts.clear()
        await _json(send, 200, {})
        return
    hits[path] += 1
    if path == "/fast":
        await _json(send, 200, {"ok": True})
    elif path.startswith("/echo"):
        size, digest = await _read(receive)
        await _json(
            send,
            200,
            {
                "method": scope["method"],
                "rawPath": scope["raw_path"].decode("latin-1"),
                "query": scope["query_string"].decode("latin-1"),
                "headers": [[n.decode(), v.decode("latin-1")] for n, v in scope["headers"]],
                "size": size,
                "sha256": digest,
            },
        )
    elif path == "/bytes":
        await _bytes(send, int(query["n"][0]))
    elif path == "/upload":
        size, digest = await _read(receive)
        await _json(send, 200, {"size": size, "sha256": digest})
    elif path.startswith("/script/"):
        await _script(send, path.removeprefix("/script/"), query)
    elif path.startswith("/bearer/"):
        expected = b"Bearer " + path.removeprefix("/bearer/").encode()
        given = dict(scope["headers"]).get(b"authorization")
        await _json(send, 200 if given == expected else 401, {"authorized": given == expected})
    elif path == "/headers":
        await _json(
            send,
            200,
            {},
            [
                (b"set-cookie", b"session=provider-secret; Path=/"),
                (b"keep-alive", b"timeout=5"),
                (b"x-provider-thing", b"kept"),
                (b"connection", b"x-hop-named"),
                (b"x-hop-named", b"dropped"),
                (b"cache-control", b"max-age=60"),
            ],
        )
    else:
        await _json(send, 404, {"error": "no such path"})


@dataclass
class Upstream:
    base_url: str
    process: subprocess.Popen[bytes]

    def hits(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(self.base_url + "/__hits").json()
        return result

    def reset(self) -> None:
        httpx.post(self.base_url + "/__reset")


@contextlib.contextmanager
def running_upstream(host: str = "127.0.0.1") -> Iterator[Upstream]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.upstream_api", str(port), host],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base_url + "/__hits", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the upstream API did not start") from None
                time.sleep(0.05)
        yield Upstream(base_url, process)
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        app,
        host=sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
    )
