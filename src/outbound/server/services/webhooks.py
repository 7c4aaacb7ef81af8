"""Webhooks: add an endpoint — the one way the management API and the console do it."""

from __future__ import annotations

from ...net.guard import UnsafeURL, vet
from ...secret import Secret
from ...storage.connection_events import DEFAULT_EVENT_TYPES
from ...storage.webhooks import TooManyWebhooks, Webhook
from ..http.errors import ApiError
from ..vault import Vault

__all__ = ["DEFAULT_OVERLAP", "MAX_WEBHOOKS", "create_webhook"]

# How long a rotated-out secret keeps signing alongside the new one, unless told.
DEFAULT_OVERLAP = 86400
MAX_WEBHOOKS = 50


async def create_webhook(
    vault: Vault, project_id: str, url: str, events: list[str] | None
) -> tuple[Webhook, Secret]:
    """Add an endpoint (the API's and the console's way): the webhook and its secret."""
    # Deliveries go through the network guard with the webhooks' own policy
    # (--webhook-allow-networks); refuse what it would refuse now.
    try:
        await vet(url, vault.webhook_network, field="url", unresolvable_ok=True)
    except UnsafeURL as exc:
        raise ApiError("E011003", str(exc)) from None
    events = list(dict.fromkeys(events or DEFAULT_EVENT_TYPES))
    try:
        # counted in the transaction that adds it: racing creates never pass the cap together
        return await vault.webhooks.create(project_id, url, events, limit=MAX_WEBHOOKS)
    except TooManyWebhooks as exc:
        raise ApiError("E011004", str(exc)) from None
