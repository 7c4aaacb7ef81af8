"""What every request handler reaches through ``request.app.state.vault``: a container of the
server's parts (settings, store, token service, provider configs, limits), built once at start;
no behaviour of its own beyond the callback URLs its settings imply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..net.guard import NetworkPolicy
from ..storage import AppRecord, Store
from ..storage.leases import RefreshLeases
from ..storage.webhooks import WebhookStore
from .config import Settings
from .http.limits import Limits
from .http.session_jwt import JwksCache

if TYPE_CHECKING:
    # The container holds the token services; they are built above it (startup.py).
    from .tokens.fetch import TokenService
    from .tokens.providers import Providers
    from .tokens.refresh import LeaseRefresher

__all__ = ["CALLBACK_PATH", "Vault"]

# Where providers send the browser back at the end of connecting (``connect.py``): each
# project has its own, ``CALLBACK_PATH/{projectId}``, so that one project's app cannot borrow
# the redirect URI (and with it the public client) another project registered. Apps created
# before keep the shared ``CALLBACK_PATH`` (``AppRecord.shared_callback``).
CALLBACK_PATH = "/v1/outbound/oauth/callback"


@dataclass
class Vault:
    settings: Settings
    store: Store
    tokens: TokenService
    # The OAuth engine and the apps' provider configurations.
    providers: Providers
    webhooks: WebhookStore
    # The refresh leases and the refresher behind ``tokens`` (refresh ahead uses them too).
    leases: RefreshLeases
    refresher: LeaseRefresher
    # Where provider calls may go (--provider-allow-networks): apps are checked against it.
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    # Where webhook deliveries may go (--webhook-allow-networks): webhooks are checked against it.
    webhook_network: NetworkPolicy = field(default_factory=NetworkPolicy)
    # failed-authentication and per-key request limits
    limits: Limits = field(default_factory=lambda: Limits(0, 0))
    # the trusted issuers' signing keys (users' tokens: session connect, delegated fetch)
    session_jwks: JwksCache | None = None

    def project_callback_url(self, project_id: str) -> str:
        """The redirect URI of every app of ``project_id`` created since callbacks are per
        project: what the app's owner registers at the provider."""
        return f"{self.settings.effective_public_url}{CALLBACK_PATH}/{quote(project_id, safe='')}"

    def app_callback_url(self, app: AppRecord) -> str:
        """The redirect URI ``app`` connects with (and its answer's ``callbackUrl``)."""
        if app.shared_callback:
            return self.settings.effective_public_url + CALLBACK_PATH
        return self.project_callback_url(app.project_id)

    def app_changed(self, project_id: str, app_id: str) -> None:
        """Forget this server's cached provider configuration of an updated or deleted app
        (other servers pick the change up within ``providers.CONFIG_CACHE_SECONDS``)."""
        self.providers.forget(project_id, app_id)
