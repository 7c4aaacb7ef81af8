"""A provider we cannot run, as an httpx.MockTransport handler that records every request:
the quirk tests of the engine (tests/oauth) and of the catalog's templates (tests/catalog)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx

from outbound.oauth import OAuthClient

Handler = Callable[[httpx.Request], httpx.Response]


class MockProvider:
    """Answers each request with ``answer`` (a response, or a handler called with the
    request) and keeps the requests."""

    def __init__(self, answer: httpx.Response | Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, httpx.Response):
            return self.answer
        return self.answer(request)

    def client(self) -> OAuthClient:
        """The engine, talking to this provider only."""
        return OAuthClient(httpx.AsyncClient(transport=httpx.MockTransport(self)))

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def form(self) -> dict[str, str]:
        """The last request's form fields."""
        return dict(parse_qsl(self.last.content.decode()))

    def basic_auth(self) -> tuple[str, str]:
        """The client id and secret of the last request's Basic authorization."""
        user, _, password = (
            base64.b64decode(self.last.headers["authorization"].removeprefix("Basic "))
            .decode()
            .partition(":")
        )
        return user, password
