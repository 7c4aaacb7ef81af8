"""The operator console at ``/console/``: server-rendered pages over the server's own
services (store, token service, webhooks), signed in with a management key.

Core flows need no JavaScript; ``static/console.js`` only adds copy buttons and live filtering
of the template picker.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from . import apps, connections, project, session
from .render import HEADERS, STATIC_DIR, redirect

__all__ = ["routes"]


class _Static(StaticFiles):
    """The stylesheet and script, with the console's headers (not cached as secrets are not
    in them, but kept fresh across upgrades by a short max-age)."""

    def file_response(self, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers.update({**HEADERS, "Cache-Control": "max-age=300"})
        return response


async def _root(request: object) -> Response:
    return redirect("/console/")


GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]

routes: list[BaseRoute] = [
    # The server's own root: a person who opens the bare URL in a browser wants the console.
    Route("/", _root, methods=GET),
    Route("/console", _root, methods=GET),
    Mount(
        "/console",
        routes=[
            Route("/", project.overview, methods=GET),
            Route("/sign-in", session.sign_in_page, methods=GET),
            Route("/sign-in", session.sign_in, methods=POST),
            Route("/sign-out", session.sign_out, methods=POST),
            Route("/link", session.link_page, methods=BOTH),
            Route("/apps", apps.apps_list, methods=GET),
            Route("/apps/new", apps.template_picker, methods=GET),
            Route("/apps/new/template", apps.from_template, methods=BOTH),
            Route("/apps/new/custom", apps.custom_app, methods=BOTH),
            Route("/apps/edit", apps.edit_app, methods=BOTH),
            Route("/apps/delete", apps.delete_app, methods=BOTH),
            Route("/connections", connections.connections_page, methods=GET),
            Route("/connections/refresh", connections.refresh, methods=POST),
            Route("/connections/verify", connections.verify, methods=POST),
            Route("/connections/delete", connections.delete, methods=POST),
            Route("/connections/link", connections.connect_link, methods=POST),
            Route("/webhooks", project.webhooks_page, methods=BOTH),
            Route("/webhooks/delete", project.webhook_delete, methods=POST),
            Route("/webhooks/rotate", project.webhook_rotate, methods=POST),
            Route("/webhooks/deliveries", project.deliveries_page, methods=GET),
            Route("/webhooks/retry", project.delivery_retry, methods=POST),
            Route("/keys", project.keys_page, methods=BOTH),
            Route("/keys/revoke", project.key_revoke, methods=POST),
            Route("/audit", project.audit_page, methods=GET),
            Mount("/static", _Static(directory=STATIC_DIR), name="console-static"),
        ],
    ),
]
