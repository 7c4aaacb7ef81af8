"""Starting and stopping the processes the tests run (servers, the OAuth provider, the MCP
server, browsers): wait until one answers, stop one politely then firmly. Written once here
instead of in every helper that starts a process."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["stop", "wait_until_up"]


def wait_until_up(
    url: str,
    process: subprocess.Popen[Any],
    what: str,
    *,
    timeout: float = 30,
    log: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``url`` until it answers 200. If ``process`` exits first, or ``timeout`` seconds
    pass (the process is then stopped), raise RuntimeError naming ``what`` with its ``log``."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"{what} did not start within {timeout:.0f} s:\n{log()}")
        time.sleep(0.05)


def stop(
    process: subprocess.Popen[Any], timeout: float = 10, how: signal.Signals = signal.SIGTERM
) -> None:
    """Ask ``process`` to stop (``how``), wait ``timeout`` seconds, then kill it."""
    if process.poll() is not None:
        return
    process.send_signal(how)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
