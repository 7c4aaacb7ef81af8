"""The management API's routes, one module per concept."""

from starlette.routing import BaseRoute

from . import apps, audit, connections, installations, meta, templates, tokens, uploads, webhooks

routes: list[BaseRoute] = [
    *meta.routes,
    *apps.routes,
    *audit.routes,
    *templates.routes,
    *tokens.routes,
    *uploads.routes,
    *installations.routes,
    *connections.routes,
    *webhooks.routes,
]

__all__ = ["routes"]
