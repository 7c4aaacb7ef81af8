"""``client.mgmt``: what a client's management API areas are (for now, outbound
applications and the by-token fetches), sync and async."""

from __future__ import annotations

from ._by_token import AsyncOutboundApplicationByToken, OutboundApplicationByToken
from ._outbound_application import AsyncOutboundApplication, OutboundApplication

__all__ = ["AsyncManagement", "Management"]


class Management:
    """``client.mgmt``: the management API areas (for now, outbound applications), and the
    by-token fetches an agent makes with a user's own access token (no management key)."""

    def __init__(
        self,
        outbound_application: OutboundApplication,
        outbound_application_by_token: OutboundApplicationByToken,
    ) -> None:
        self.outbound_application = outbound_application
        self.outbound_application_by_token = outbound_application_by_token


class AsyncManagement:
    """``client.mgmt`` of an :class:`AsyncClient`."""

    def __init__(
        self,
        outbound_application: AsyncOutboundApplication,
        outbound_application_by_token: AsyncOutboundApplicationByToken,
    ) -> None:
        self.outbound_application = outbound_application
        self.outbound_application_by_token = outbound_application_by_token
