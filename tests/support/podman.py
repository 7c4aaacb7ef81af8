"""Podman for the image tests: the image built by ./scripts/image, and containers, volumes and
secrets that are removed when the test is done.

Podman runs here with the settings scripts/image uses (runc, cgroupfs, no default ulimits:
docs/deploy.md); ``PODMAN_OPTS`` and ``CONTAINERS_CONF`` override them as they do there."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".image"


def available() -> str | None:
    """Why the image tests cannot run here, or None when they can."""
    if shutil.which("podman") is None:
        return "podman is not installed (./scripts/test installs it with apt where it can)"
    return None


class Podman:
    def __init__(self) -> None:
        self.env = dict(os.environ)
        if "CONTAINERS_CONF" not in self.env:
            CACHE.mkdir(exist_ok=True)
            conf = CACHE / "containers.conf"
            conf.write_text("[containers]\ndefault_ulimits = []\n")
            self.env["CONTAINERS_CONF"] = str(conf)
        opts = self.env.get("PODMAN_OPTS")
        if opts is None:
            opts = "--cgroup-manager=cgroupfs" + (" --runtime runc" if shutil.which("runc") else "")
        self.opts = opts.split()
        self._cleanup: list[list[str]] = []

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["podman", *self.opts, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)} failed:\n{done.stderr}")
        return done

    def build_image(self) -> str:
        """./scripts/image with a tag of this run's own; removed by ``close``."""
        tag = "localhost/outbound-test:" + secrets.token_hex(4)
        done = subprocess.run(
            [str(ROOT / "scripts" / "image"), tag],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=900,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/image failed:\n{done.stdout}\n{done.stderr}")
        self._cleanup.append(["rmi", "--force", tag])
        return tag

    def name(self, kind: str, remove: list[str]) -> str:
        """A fresh name for a container, volume or secret, removed by ``close``."""
        name = f"outbound-test-{kind}-{secrets.token_hex(4)}"
        self._cleanup.append([*remove, name])
        return name

    def container(self, *run_args: str) -> str:
        """``podman run -d`` under a fresh name; returns the name."""
        name = self.name("c", ["rm", "--force", "--volumes", "--time", "0"])
        self("run", "-d", "--name", name, *run_args)
        return name

    def volume(self) -> str:
        name = self.name("v", ["volume", "rm", "--force"])
        self("volume", "create", name)
        return name

    def secret(self, value: str) -> str:
        name = self.name("s", ["secret", "rm"])
        subprocess.run(
            ["podman", *self.opts, "secret", "create", name, "-"],
            input=value,
            text=True,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        return name

    def wait_healthy(self, container: str, deadline_s: float = 120) -> float:
        """Seconds until the image's HEALTHCHECK passes (run by hand: podman runs it from
        systemd timers, and there is no systemd here)."""
        start = time.monotonic()
        while True:
            if self("healthcheck", "run", container, check=False).returncode == 0:
                return time.monotonic() - start
            state = self("inspect", "--format", "{{.State.Status}}", container).stdout.strip()
            if state != "running" or time.monotonic() - start > deadline_s:
                raise RuntimeError(f"{container} is {state}, not healthy:\n{self.logs(container)}")
            time.sleep(0.2)

    def logs(self, container: str) -> str:
        done = self("logs", container, check=False)
        return done.stdout + done.stderr

    def close(self) -> None:
        for args in reversed(self._cleanup):
            self(*args, check=False)
        self._cleanup.clear()


@contextlib.contextmanager
def podman() -> Iterator[Podman]:
    runner = Podman()
    try:
        yield runner
    finally:
        runner.close()
