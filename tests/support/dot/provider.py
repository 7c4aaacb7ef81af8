"""A second real OAuth 2.0 authorization server for outbound's tests: django-oauth-toolkit (its
own token endpoint, client authentication and client-credentials grant), in one Django
process on loopback, its database a SQLite file of its own.

    python tests/support/dot/provider.py --port 9124 --db /tmp/dot.sqlite3

Admin endpoints for tests (``/__admin``): register a client-credentials client
(``POST /__admin/clients`` → ``{client_id, client_secret}``), read and zero the counts of token
requests (``GET /__admin/grants``, ``POST /__admin/reset``), and ask whether an access token is
live (``POST /__admin/active``). Everything under ``/o/`` is django-oauth-toolkit as published.
Prints "ready <issuer>" once listening.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
from collections import Counter
from typing import Any


def configure(db: str) -> None:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_hex(32),
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "oauth2_provider",
        ],
        MIDDLEWARE=[],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        OAUTH2_PROVIDER={
            "SCOPES": {"read": "read", "write": "write", "admin": "admin"},
            "DEFAULT_SCOPES": ["read"],
            "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
        },
    )
    import django

    django.setup()


_lock = threading.Lock()
_counts: dict[str, Counter[str]] = {"success": Counter(), "error": Counter()}
_requests = [0]


def _json(data: Any, status: int = 200) -> Any:
    from django.http import JsonResponse

    return JsonResponse(data, status=status, safe=False)


def _body(request: Any) -> dict[str, Any]:
    return json.loads(request.body or b"{}")


def token(request: Any) -> Any:
    """django-oauth-toolkit's token view, counted: each request, and its outcome by grant."""
    from oauth2_provider.views import TokenView

    grant = request.POST.get("grant_type", "unknown")
    response = TokenView.as_view()(request)
    with _lock:
        _requests[0] += 1
        _counts["success" if response.status_code == 200 else "error"][grant] += 1
    return response


def add_client(request: Any) -> Any:
    from oauth2_provider.models import get_application_model

    body = _body(request)
    secret = secrets.token_urlsafe(32)
    app = get_application_model().objects.create(
        name=body.get("name", "outbound-test"),
        client_type="confidential",
        authorization_grant_type="client-credentials",
        client_secret=secret,
        # stored as given: a hashed secret costs a PBKDF2 run per token request, seconds on a
        # busy 2-core machine (django-oauth-toolkit hashes by default)
        hash_client_secret=False,
    )
    return _json({"client_id": app.client_id, "client_secret": secret})


def grants(request: Any) -> Any:
    with _lock:
        return _json(
            {
                "tokenRequests": _requests[0],
                "success": dict(_counts["success"]),
                "error": dict(_counts["error"]),
            }
        )


def reset(request: Any) -> Any:
    with _lock:
        _requests[0] = 0
        _counts["success"].clear()
        _counts["error"].clear()
    return _json({})


def active(request: Any) -> Any:
    from oauth2_provider.models import get_access_token_model

    value = _body(request).get("token", "")
    found = get_access_token_model().objects.filter(token=value).first()
    if found is None or not found.is_valid():
        return _json({"active": False})
    return _json(
        {
            "active": True,
            "client_id": found.application.client_id if found.application else None,
            "scope": found.scope,
            "user": found.user_id,
        }
    )


def urls() -> list[Any]:
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    return [
        path("o/token/", csrf_exempt(token)),
        path("__admin/clients", csrf_exempt(add_client)),
        path("__admin/grants", grants),
        path("__admin/reset", csrf_exempt(reset)),
        path("__admin/active", csrf_exempt(active)),
    ]


urlpatterns: list[Any] = []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    configure(args.db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    urlpatterns.extend(urls())

    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from django.core.wsgi import get_wsgi_application

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server(
        "127.0.0.1",
        args.port,
        get_wsgi_application(),
        server_class=Server,
        handler_class=QuietHandler,
    )
    print(f"ready http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
