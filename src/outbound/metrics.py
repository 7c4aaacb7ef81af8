"""Prometheus metrics: every family outbound exports, and the one-line hooks that feed them.

Off unless the server is started with ``--metrics-port``; then :func:`enable` builds the
families in a registry of their own and the hooks below count into it. While off, each hook is
one ``None`` check, so code can call them freely. Each server process exports its own counts
on its own port (one ``outbound serve`` is one process); Prometheus sums across instances.

Labels carry only bounded, non-secret values, never a string a caller chose: route templates
(never raw paths), the standard HTTP methods (any other is ``other``), status codes, error
codes, template ids of the provider catalog (an app naming any other ``templateId`` counts as
``custom``), outcome classes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

__all__ = [
    "Metrics",
    "active",
    "audit_dropped",
    "audit_pending",
    "audit_written",
    "connections",
    "delegated_fetch",
    "disable",
    "enable",
    "fetch",
    "http_request",
    "lease_wait",
    "proxy_request",
    "refresh",
    "template_label",
    "webhook_delivery",
    "webhook_queue_depth",
]

# Latencies of requests the server answers from its store: well under a millisecond to a
# provider's timeout.
_HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
# Refreshes and lease waits go to a provider: tens of milliseconds to the provider timeout.
_PROVIDER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# The method label's values: a request may name any token as its method.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _PerRequest:
    """The families every request touches — requests, their latency, token fetches — kept as
    plain numbers and exposed by a custom collector.

    prometheus-client's own ``Histogram.observe`` and labelled ``inc`` take a lock and cost
    several microseconds each (measured: 5.6 µs per request for counter + histogram), a tenth of
    a fetch. These are only ever updated from the event loop's thread; a scrape (the listener's
    thread) copies each dict or list in one step under the GIL, so it reads whole numbers.
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        # route -> [count per bucket (the last: +Inf) ..., sum]
        self.durations: dict[str, list[float]] = {}
        self.fetches: dict[str, int] = {}
        # fetches made with a user's own token (delegation.py), by outcome
        self.delegated: dict[str, int] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method if method in _METHODS else "other", status)
        self.requests[key] = self.requests.get(key, 0) + 1
        counts = self.durations.get(route)
        if counts is None:
            counts = self.durations[route] = [0.0] * (len(_HTTP_BUCKETS) + 2)
        counts[bisect.bisect_left(_HTTP_BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def describe(self) -> Iterator[Any]:
        return self._families(describe=True)

    def collect(self) -> Iterator[Any]:
        return self._families(describe=False)

    def _families(self, *, describe: bool) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            "outbound_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            labels=["route", "method", "status"],
        )
        durations = HistogramMetricFamily(
            "outbound_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            labels=["route"],
        )
        fetches = CounterMetricFamily(
            "outbound_token_fetches",
            "Token fetches, by outcome: ok, or the API error code answered.",
            labels=["outcome"],
        )
        delegated = CounterMetricFamily(
            "outbound_delegated_token_fetches",
            "Token fetches made with a user's own access token (Bearer <projectId>:<JWT>), by"
            " outcome: ok, or the API error code answered (refused tokens included).",
            labels=["outcome"],
        )
        if not describe:
            for (route, method, status), count in dict(self.requests).items():
                requests.add_metric([route, method, str(status)], count)
            for route, live in dict(self.durations).items():
                counts = list(live)
                cumulative, buckets = 0.0, []
                for bound, in_bucket in zip((*_HTTP_BUCKETS, float("inf")), counts, strict=False):
                    cumulative += in_bucket
                    label = "+Inf" if bound == float("inf") else repr(float(bound))
                    buckets.append((label, cumulative))
                durations.add_metric([route], buckets, counts[-1])
            for outcome, count in dict(self.fetches).items():
                fetches.add_metric([outcome], count)
            for outcome, count in dict(self.delegated).items():
                delegated.add_metric([outcome], count)
        yield requests
        yield durations
        yield fetches
        yield delegated


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry

        # Families are exposed in the order they are registered here.
        self.registry = CollectorRegistry()
        self.per_request = _PerRequest()
        self.registry.register(self.per_request)
        self._refresh_families()
        self._proxy_families()
        self._connection_families()
        self._audit_families()
        self._webhook_families()

    def _refresh_families(self) -> None:
        from prometheus_client import Counter, Histogram

        r = self.registry
        self.refreshes = Counter(
            "outbound_refreshes",
            "Refreshes at a provider, by app template (custom: none) and outcome class"
            " (success, transient, permanent, config).",
            ["template", "outcome"],
            registry=r,
        )
        self.refresh_duration = Histogram(
            "outbound_refresh_duration_seconds",
            "Time a refresh at the provider took, by app template.",
            ["template"],
            buckets=_PROVIDER_BUCKETS,
            registry=r,
        )
        self.lease_waits = Histogram(
            "outbound_refresh_lease_wait_seconds",
            "Time a refresh waited on another server's (or task's) refresh lease of the same"
            " token; the count is the number of such waits.",
            buckets=_PROVIDER_BUCKETS,
            registry=r,
        )

    def _proxy_families(self) -> None:
        from prometheus_client import Counter, Histogram

        r = self.registry
        self.proxy_requests = Counter(
            "outbound_proxy_requests",
            "Calls through the provider-API proxy, by app template (custom: none), method and"
            " status class of the answer (2xx … 5xx; the vault's own errors included).",
            ["app_template", "method", "status_class"],
            registry=r,
        )
        self.proxy_duration = Histogram(
            "outbound_proxy_request_duration_seconds",
            "Time a call through the provider-API proxy took, to the answer's last byte, by app"
            " template.",
            ["app_template"],
            buckets=_PROVIDER_BUCKETS,
            registry=r,
        )

    def _connection_families(self) -> None:
        from prometheus_client import Gauge

        r = self.registry
        self.connections = Gauge(
            "outbound_connections",
            "Stored connections (tokens) by status, counted periodically.",
            ["status"],
            registry=r,
        )

    def _audit_families(self) -> None:
        from prometheus_client import Counter, Gauge

        r = self.registry
        self.audit_events = Counter(
            "outbound_audit_events_written",
            "Audit events written to the store.",
            registry=r,
        )
        self.audit_pending = Gauge(
            "outbound_audit_events_pending",
            "Fetch audit events waiting for the next batched write.",
            registry=r,
        )
        self.audit_dropped = Counter(
            "outbound_audit_events_dropped",
            "Audit events dropped because the store refused them for too long.",
            registry=r,
        )

    def _webhook_families(self) -> None:
        from prometheus_client import Counter, Gauge

        r = self.registry
        # Webhooks (issue 12 item 3) plug in here: call webhook_delivery() per attempt and
        # webhook_queue_depth() when the outbox is counted.
        self.webhook_deliveries = Counter(
            "outbound_webhook_deliveries",
            "Webhook delivery attempts, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.webhook_queue = Gauge(
            "outbound_webhook_queue_depth",
            "Webhook events waiting to be delivered.",
            registry=r,
        )

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


_current: Metrics | None = None


def enable() -> Metrics:
    """Build the families (a fresh registry) and start counting into them."""
    global _current
    _current = Metrics()
    return _current


def disable() -> None:
    global _current
    _current = None


def active() -> Metrics | None:
    return _current


# -- hooks: each a no-op while metrics are off -------------------------------------------------


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    m = _current
    if m is None:
        return
    m.per_request.request(route, method, status, seconds)


def fetch(error_code: str | None) -> None:
    m = _current
    if m is None:
        return
    outcome = error_code or "ok"
    fetches = m.per_request.fetches
    fetches[outcome] = fetches.get(outcome, 0) + 1


def delegated_fetch(error_code: str | None) -> None:
    m = _current
    if m is None:
        return
    outcome = error_code or "ok"
    delegated = m.per_request.delegated
    delegated[outcome] = delegated.get(outcome, 0) + 1


def refresh(template: str, outcome: str, seconds: float) -> None:
    m = _current
    if m is None:
        return
    template = template_label(template)
    m.refreshes.labels(template, outcome).inc()
    m.refresh_duration.labels(template).observe(seconds)


def proxy_request(template: str, method: str, status: int, seconds: float) -> None:
    m = _current
    if m is None:
        return
    template = template_label(template)
    method = method if method in _METHODS else "other"
    status_class = f"{status // 100}xx" if 100 <= status < 600 else "other"
    m.proxy_requests.labels(template, method, status_class).inc()
    m.proxy_duration.labels(template).observe(seconds)


def template_label(template_id: str) -> str:
    """A catalog template's id as is; anything else (an app's ``templateId`` is the key
    holder's to write) as ``custom``."""
    from .catalog import get_template

    return template_id if template_id and get_template(template_id) is not None else "custom"


def lease_wait(seconds: float) -> None:
    m = _current
    if m is not None:
        m.lease_waits.observe(seconds)


def connections(counts: dict[str, int]) -> None:
    m = _current
    if m is None:
        return
    for status, count in counts.items():
        m.connections.labels(status).set(count)


def audit_written(count: int) -> None:
    m = _current
    if m is not None and count:
        m.audit_events.inc(count)


def audit_pending(count: int) -> None:
    m = _current
    if m is not None:
        m.audit_pending.set(count)


def audit_dropped(count: int) -> None:
    m = _current
    if m is not None:
        m.audit_dropped.inc(count)


def webhook_delivery(outcome: str) -> None:
    m = _current
    if m is not None:
        m.webhook_deliveries.labels(outcome).inc()


def webhook_queue_depth(count: int) -> None:
    m = _current
    if m is not None:
        m.webhook_queue.set(count)
