"""A real browser a test steers step by step: ``oidc/console_driver.mjs`` (playwright-core on
Debian's chromium) behind a small Python class.

    with ConsoleBrowser() as browser:
        browser.goto(url)
        browser.fill("#projectId", project_id)
        browser.click("#sign-in")
        assert browser.axe() == []
"""

from __future__ import annotations

import json
import subprocess
from types import TracebackType
from typing import Any

from tests.support.oidc_server import OIDC_DIR, ensure_installed


class BrowserStepError(RuntimeError):
    pass


class ConsoleBrowser:
    def __init__(self) -> None:
        ensure_installed()
        self._process = subprocess.Popen(
            ["node", str(OIDC_DIR / "console_driver.mjs")],
            cwd=OIDC_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> ConsoleBrowser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(json.dumps({"op": "close"}) + "\n")
                self._process.stdin.flush()
                self._process.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout, self._process.stderr):
            if pipe is not None:
                pipe.close()

    def step(self, op: str, **args: Any) -> Any:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            stderr = self._process.stderr.read() if self._process.stderr else ""
            raise BrowserStepError(f"the browser driver exited:\n{stderr[-3000:]}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise BrowserStepError(f"{op} {args}: {answer['error'][:2000]}")
        return answer["result"]

    def goto(self, url: str) -> int:
        status: int = self.step("goto", url=url)["status"]
        return status

    def fill(self, selector: str, value: str) -> None:
        self.step("fill", selector=selector, value=value)

    def check(self, selector: str) -> None:
        self.step("check", selector=selector)

    def click(self, selector: str, *, navigate: bool = True) -> str:
        """Click, and (unless ``navigate`` is False) wait for the page it leads to."""
        url: str = self.step("click", selector=selector, navigate=navigate)["url"]
        return url

    def text(self, selector: str) -> str:
        text: str = self.step("text", selector=selector)
        return text

    def value(self, selector: str) -> str:
        value: str = self.step("value", selector=selector)
        return value

    def count(self, selector: str) -> int:
        count: int = self.step("count", selector=selector)
        return count

    @property
    def url(self) -> str:
        url: str = self.step("url")
        return url

    def content(self) -> str:
        content: str = self.step("content")
        return content

    def cookies(self) -> list[dict[str, Any]]:
        cookies: list[dict[str, Any]] = self.step("cookies")
        return cookies

    def clipboard(self) -> str:
        text: str = self.step("clipboard")
        return text

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the current page."""
        found: list[dict[str, Any]] = self.step("axe")
        return found

    def csp_errors(self) -> list[str]:
        errors: list[str] = self.step("cspErrors")
        return errors

    def screenshot(self, path: str, width: int) -> None:
        self.step("screenshot", path=path, width=width)

    def focus_order(self, n: int) -> list[str]:
        order: list[str] = self.step("focusOrder", n=n)
        return order

    def scroll_width(self, width: int) -> int:
        value: int = self.step("scrollWidth", width=width)
        return value
