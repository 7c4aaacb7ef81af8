"""Provider templates: the catalog a user picks from before creating an app."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..http.errors import ApiError
from ..http.helpers import authed, json_response


async def list_templates(request: Request) -> Response:
    await authed(request)
    from ...catalog import all_templates  # the catalog loads on first use, not at start-up

    return json_response({"templates": [template.to_wire() for template in all_templates()]})


async def load_template(request: Request) -> Response:
    await authed(request)
    from ...catalog import get_template

    template_id = request.path_params["id"]
    template = get_template(template_id)
    if template is None:
        raise ApiError(
            "E131003",
            f"no provider template {template_id!r}; GET /v1/mgmt/outbound/templates lists them",
        )
    return json_response({"template": template.to_wire()})


routes = [
    Route("/v1/mgmt/outbound/templates", list_templates, methods=["GET"]),
    Route("/v1/mgmt/outbound/templates/{id}", load_template, methods=["GET"]),
]
