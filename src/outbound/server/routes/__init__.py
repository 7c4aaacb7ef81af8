"""The management API's routes, one module per concept."""

from starlette.routing import BaseRoute

from . import apps, audit, meta, templates, tokens, uploads

routes: list[BaseRoute] = [
    *meta.routes,
    *apps.routes,
    *audit.routes,
    *templates.routes,
    *tokens.routes,
    *uploads.routes,
]

__all__ = ["routes"]
