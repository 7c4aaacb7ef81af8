"""Webhook endpoints (Standard Webhooks): add, list, remove, rotate the secret, and see or
retry their deliveries."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...storage.connection_events import EventType
from ...storage.webhooks import InvalidCursor
from ..http.errors import ApiError
from ..http.helpers import authed, json_response, read_body
from ..http.query import query_cursor, seal_cursor
from ..http.wire import Url, decode, require
from ..services.webhooks import DEFAULT_OVERLAP, create_webhook
from .connections import invalid_cursor, page_limit

PREFIX = "/v1/mgmt/outbound/webhooks"
MAX_OVERLAP = 7 * 86400


class WebhookCreate(msgspec.Struct):
    url: Url | None = None
    # absent or null: every event
    events: Annotated[list[EventType], Meta(min_length=1, max_length=16)] | None = None


class WebhookRotate(msgspec.Struct, rename="camel"):
    overlap_seconds: Annotated[int, Meta(ge=0, le=MAX_OVERLAP)] | None = None


def webhook_not_found(webhook_id: str) -> ApiError:
    return ApiError("E131030", f"webhook {webhook_id!r} not found")


async def create(request: Request) -> Response:
    vault, project_id = await authed(request)
    req = decode(await read_body(request), WebhookCreate)
    webhook, secret = await create_webhook(
        vault, project_id, require(req.url, "url"), list(req.events) if req.events else None
    )
    # The secret is shown this once; only its sealed form is stored.
    return json_response({"webhook": webhook.to_wire(), "secret": secret.reveal()})


async def list_webhooks(request: Request) -> Response:
    vault, project_id = await authed(request)
    found = await vault.webhooks.all(project_id)
    return json_response({"webhooks": [webhook.to_wire() for webhook in found]})


async def remove(request: Request) -> Response:
    vault, project_id = await authed(request)
    webhook_id = request.path_params["webhook_id"]
    if not await vault.webhooks.delete(project_id, webhook_id):
        raise webhook_not_found(webhook_id)
    return json_response({})


async def rotate(request: Request) -> Response:
    vault, project_id = await authed(request)
    webhook_id = request.path_params["webhook_id"]
    raw = await read_body(request)
    req = decode(raw, WebhookRotate) if raw.strip() else WebhookRotate()
    overlap = DEFAULT_OVERLAP if req.overlap_seconds is None else req.overlap_seconds
    rotated = await vault.webhooks.rotate(project_id, webhook_id, overlap)
    if rotated is None:
        raise webhook_not_found(webhook_id)
    webhook, secret = rotated
    return json_response({"webhook": webhook.to_wire(), "secret": secret.reveal()})


async def deliveries(request: Request) -> Response:
    vault, project_id = await authed(request)
    webhook_id = request.path_params["webhook_id"]
    if await vault.webhooks.get(project_id, webhook_id) is None:
        raise webhook_not_found(webhook_id)
    try:
        page = await vault.webhooks.deliveries(
            project_id,
            webhook_id,
            page_limit(request),
            query_cursor(request, vault.store.keyring, f"deliveries:{webhook_id}", project_id),
        )
    except InvalidCursor:
        raise invalid_cursor() from None
    return json_response(
        {
            "deliveries": [delivery.to_wire(attempts) for delivery, attempts in page.deliveries],
            "nextCursor": seal_cursor(
                vault.store.keyring, f"deliveries:{webhook_id}", project_id, page.next_cursor
            ),
        }
    )


async def retry(request: Request) -> Response:
    vault, project_id = await authed(request)
    webhook_id = request.path_params["webhook_id"]
    delivery_id = request.path_params["delivery_id"]
    delivery = await vault.webhooks.retry(project_id, webhook_id, delivery_id)
    if delivery is None:
        if await vault.webhooks.get(project_id, webhook_id) is None:
            raise webhook_not_found(webhook_id)
        raise ApiError("E131031", f"webhook delivery {delivery_id!r} not found")
    return json_response({"delivery": delivery.to_wire()})


routes = [
    Route(PREFIX, create, methods=["POST"]),
    Route(PREFIX, list_webhooks, methods=["GET"]),
    Route(PREFIX + "/{webhook_id}", remove, methods=["DELETE"]),
    Route(PREFIX + "/{webhook_id}/rotate", rotate, methods=["POST"]),
    Route(PREFIX + "/{webhook_id}/deliveries", deliveries, methods=["GET"]),
    Route(PREFIX + "/{webhook_id}/deliveries/{delivery_id}/retry", retry, methods=["POST"]),
]
