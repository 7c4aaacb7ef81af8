"""Starting and stopping a server: the vault its settings describe, then its background loops.

Every step is pushed on one ``contextlib.AsyncExitStack`` as it succeeds, so a failure at any
step (the metrics port taken, the database gone) unwinds every step before it, in reverse, and
a clean stop unwinds them all the same way:

    open the store ─ OAuth client ─ audit writer ─ webhook retention ─ audit checkpoints ─
    audit retention ─ webhook sender ─ (refresh drain) ─ refresh ahead ─ device-flow poller ─
    connect-session purge ─ metrics listener

so the stop runs right to left: no loop outlives the store it writes to, the refreshes that
hold a lease store their answer before the webhook sender stops, and the audit log is flushed
before the store closes (a clean stop loses no fetch event).

``build_vault`` alone (no loops) is what tests and tools use; ``serving`` is the server.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from ..oauth import OAuthClient
from ..storage import Store
from ..storage.leases import RefreshLeases
from ..storage.webhooks import WebhookStore
from .background.audit_checkpoints import AuditCheckpoints
from .background.audit_retention import AuditRetention
from .background.connect_sessions import PurgeConnectSessions
from .background.supervisor import Supervisor
from .background.webhook_delivery import WebhookSender
from .background.webhook_retention import WebhookRetention
from .config import Settings
from .connect import dcr
from .connect.device import DevicePoller
from .http.limits import Limits
from .http.metrics_listener import MetricsListener
from .http.session_jwt import JwksCache
from .open_store import open_store
from .tokens.fetch import TokenService
from .tokens.providers import Providers
from .tokens.refresh import LeaseRefresher
from .tokens.refresh_ahead import RefreshAhead
from .vault import Vault

__all__ = ["build_vault", "serving"]


@asynccontextmanager
async def build_vault(settings: Settings) -> AsyncIterator[Vault]:
    """The vault ``settings`` describe — store, OAuth client, token service, providers,
    limits — open for the block, closed after it (or when building it fails half-way)."""
    async with AsyncExitStack() as stack:
        store = await open_store(settings)
        stack.push_async_callback(store.db.close)
        network = settings.network_policy
        oauth = OAuthClient(timeout=settings.provider_timeout, network=network)
        stack.push_async_callback(oauth.aclose)
        yield _assemble(settings, store, oauth)


def _assemble(settings: Settings, store: Store, oauth: OAuthClient) -> Vault:
    store.audit.fetches = settings.audit_fetches
    providers = Providers(store, oauth)
    leases = RefreshLeases(store, failing_after=settings.failing_after)
    refresher = LeaseRefresher(
        leases,
        providers,
        provider_timeout=settings.provider_timeout,
        commit_timeout=settings.refresh_commit_timeout,
    )
    limits = Limits(settings.auth_failure_limit, settings.key_rate_limit)
    vault = Vault(
        settings=settings,
        store=store,
        tokens=TokenService(
            store, refresher, refresh_margin=settings.refresh_margin, admit=limits.admit
        ),
        providers=providers,
        webhooks=WebhookStore(store.db, store.keyring),
        leases=leases,
        refresher=refresher,
        network=settings.network_policy,
        webhook_network=settings.webhook_network_policy,
        limits=limits,
        session_jwks=JwksCache(network=settings.network_policy),
    )
    providers.on_invalid_client = functools.partial(dcr.replace_client, vault)
    return vault


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Vault]:
    """The vault with every background loop running, until the block ends."""
    async with build_vault(settings) as vault, AsyncExitStack() as stack:
        start_loops(vault, Supervisor(stack))
        yield vault


def start_loops(vault: Vault, loops: Supervisor) -> None:
    """Start the server's background loops, in the order the module docstring draws."""
    settings, store = vault.settings, vault.store
    store.audit.start(settings.audit_flush_interval)
    # written before the store closes: a clean stop loses no fetch event
    loops.on_stop(store.audit.stop)
    loops.start(WebhookRetention(vault.webhooks, settings.webhook_retention))
    loops.start(AuditCheckpoints(store, settings.audit_checkpoint_interval))
    loops.start(AuditRetention(store, settings.audit_retention_days))
    loops.start(
        WebhookSender(
            vault.webhooks,
            retry_base=settings.webhook_retry_base,
            retry_for=settings.webhook_retry_for,
            timeout=settings.webhook_timeout,
            network=settings.webhook_network_policy,
        )
    )
    loops.on_stop(vault.refresher.drain)
    if settings.refresh_ahead > 0 or settings.refresh_idle_days > 0:
        loops.start(
            RefreshAhead(
                vault.leases,
                vault.refresher,
                horizon=settings.refresh_ahead,
                idle_days=settings.refresh_idle_days,
                interval=settings.refresh_ahead_interval,
            )
        )
    loops.start(DevicePoller(vault))
    loops.start(PurgeConnectSessions(store))
    if settings.metrics_port:
        loops.start(MetricsListener(store.db, settings.metrics_host, settings.metrics_port))
