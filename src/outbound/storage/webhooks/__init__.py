"""Webhook endpoints and their outbox of deliveries: the rows (``records``) and the
repository (``store``)."""

from ..errors import InvalidCursor, TooManyWebhooks
from .records import (
    Attempt,
    Delivery,
    DeliveryPage,
    Due,
    Webhook,
    new_webhook_secret,
)
from .store import WebhookStore

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryPage",
    "Due",
    "InvalidCursor",
    "TooManyWebhooks",
    "Webhook",
    "WebhookStore",
    "new_webhook_secret",
]
