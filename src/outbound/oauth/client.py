"""The thin I/O layer: :class:`OAuthClient` sends what :mod:`.messages` builds and hands
what comes back to :mod:`.tokens`, over the bounded HTTP of :mod:`.exchange` (timeouts, one
overall deadline, a byte cap; a discovery document may not exceed 64 KiB; through the network
guard unless a caller hands in its own ``http`` client). Discovery documents are cached in a
bounded LRU.

A refresh whose answer is *lost* — the connection reset or closed after the request may
have reached the provider — is sent once more at once with the same refresh token
(:data:`ANSWER_LOST`): a provider that rotates refresh tokens has then already rotated it,
and many keep a short reuse grace for exactly this. A definite answer (any HTTP status) is
never retried, nor a request that was never sent (connect errors), nor one that timed out:
its whole deadline is spent (the read timeout is the deadline), and a retry would come long
after any grace; it is reported with ``answer_may_be_lost`` instead.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..net.guard import NetworkPolicy
from ..net.http import Answer
from ..secret import Secret
from . import messages
from .config import ClientAuthMethod, ProviderConfig
from .device import DeviceAuthorization, parse_device_authorization
from .discovery import apply_metadata, is_secure_url, validate_metadata
from .errors import (
    ANSWER_LOST,
    OAuthConfigError,
    OAuthError,
    PermanentOAuthError,
    TransientOAuthError,
)
from .exchange import ProviderHTTP
from .lru import BoundedCache, KeyedLocks
from .origins import check_secret_origin
from .registration import (
    RegisteredClient,
    deletion_request,
    parse_registration_response,
    registration_request,
)
from .resource import (
    ResourceMetadata,
    authorization_server_metadata_urls,
    parse_resource_metadata,
    resource_metadata_hint,
    resource_metadata_urls,
)
from .tokens import (
    TokenSet,
    decode_body,
    error_from_payload,
    parse_token_response,
    raise_for_status,
)

__all__ = ["OAuthClient"]

# A real discovery document is a few KiB; anything larger is refused, not parsed.
MAX_DISCOVERY_BYTES = 64 * 1024
# The discovery cache holds at most this many documents and bytes (LRU).
DISCOVERY_CACHE_ENTRIES = 1024
DISCOVERY_CACHE_BYTES = 4 * 1024 * 1024


@dataclasses.dataclass
class _CachedMetadata:
    metadata: dict[str, Any]
    fresh_until: float
    size: int


@dataclasses.dataclass(frozen=True)
class ResourceDiscovery:
    """Where a protected resource's tokens come from: its metadata (RFC 9728) and the URL of
    its authorization server's metadata (RFC 8414 or OpenID Connect), found and validated."""

    resource: ResourceMetadata
    issuer: str
    discovery_url: str


def _discoverable(config: ProviderConfig) -> bool:
    return bool(config.discovery_url or config.resource)


def _has_endpoints(config: ProviderConfig) -> bool:
    return bool(config.token_url and config.authorization_url)


class OAuthClient:
    """Talks OAuth 2.0 to providers described by :class:`ProviderConfig`.

    ``network`` says where requests may go (default: public addresses only, over https).
    Pass ``http`` instead to bring your own client (tests with a mock transport); it is then
    not guarded, and the client leaves it open on :meth:`aclose`. ``timeout`` is the overall
    deadline of one HTTP exchange in seconds."""

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = 10.0,
        max_response_bytes: int = 1 << 20,
        discovery_ttl: float = 3600.0,
        network: NetworkPolicy | None = None,
        discovery_cache_entries: int = DISCOVERY_CACHE_ENTRIES,
        discovery_cache_bytes: int = DISCOVERY_CACHE_BYTES,
    ) -> None:
        self._http = ProviderHTTP(
            http, timeout=timeout, max_response_bytes=max_response_bytes, network=network
        )
        # The guard enforces https-or-allowed-network itself; a caller's own client gets the
        # plain rule (https, or http to loopback names).
        self._guarded = self._http.guarded
        self.discovery_ttl = discovery_ttl
        self._metadata: BoundedCache[str, _CachedMetadata] = BoundedCache(
            max_entries=discovery_cache_entries, max_bytes=discovery_cache_bytes
        )
        self._metadata_locks: KeyedLocks[str] = KeyedLocks()
        # protected resource -> (its authorization server, fresh until): bounded like discovery
        self._resources: BoundedCache[str, tuple[ResourceDiscovery, float]] = BoundedCache(
            max_entries=discovery_cache_entries, max_bytes=discovery_cache_entries * 4096
        )

    async def __aenter__(self) -> OAuthClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- discovery ---------------------------------------------------------------------

    async def resolve(self, config: ProviderConfig) -> ProviderConfig:
        """The configuration with endpoints and client-auth method filled in, from its
        discovery document when it has a ``discovery_url`` (cached for ``discovery_ttl``
        seconds per URL; issuer checked). A configuration with only a ``resource`` (an MCP
        server's URL) finds its authorization server first (:meth:`discover_resource`); the
        resource's ``scopes_supported`` then stand in for absent default scopes."""
        if config.resource and not config.discovery_url and not _has_endpoints(config):
            found = await self.discover_resource(config.resource)
            config = dataclasses.replace(
                config,
                discovery_url=found.discovery_url,
                issuer=config.issuer or found.issuer,
                default_scopes=config.default_scopes or found.resource.scopes_supported,
            )
        if not config.discovery_url:
            return dataclasses.replace(
                config, token_endpoint_auth_method=messages.client_auth_method(config)
            )
        metadata = await self.metadata(config.discovery_url, issuer=config.issuer)
        return apply_metadata(config, metadata)

    async def metadata(self, discovery_url: str, *, issuer: str = "") -> dict[str, Any]:
        """The validated metadata document at ``discovery_url``. When a refetch fails
        transiently, a stale cached document is used rather than failing the caller."""
        cached = self._metadata.get(discovery_url)
        if cached is not None and cached.fresh_until > time.monotonic():
            validate_metadata(cached.metadata, discovery_url=discovery_url, issuer=issuer)
            return cached.metadata
        async with self._metadata_locks.hold(discovery_url):
            cached = self._metadata.get(discovery_url)
            if cached is None or cached.fresh_until <= time.monotonic():
                try:
                    document, size = await self._fetch_metadata(discovery_url)
                except TransientOAuthError:
                    if cached is None:
                        raise
                    document, size = cached.metadata, cached.size
                validate_metadata(document, discovery_url=discovery_url, issuer=issuer)
                cached = _CachedMetadata(document, time.monotonic() + self.discovery_ttl, size)
                self._metadata.put(discovery_url, cached, size)
        validate_metadata(cached.metadata, discovery_url=discovery_url, issuer=issuer)
        return cached.metadata

    async def _fetch_metadata(
        self, url: str, what: str = "discovery"
    ) -> tuple[dict[str, Any], int]:
        if not self._guarded and not is_secure_url(url):
            raise OAuthConfigError("insecure_url", f"the {what} URL is not an https URL")
        try:
            response = await self._http.send(
                "GET", url, {"Accept": "application/json"}, None, cap=MAX_DISCOVERY_BYTES
            )
        except TransientOAuthError as exc:
            if exc.error == "response_too_large":
                raise OAuthConfigError(
                    "discovery_too_large",
                    f"the {what} document is larger than {MAX_DISCOVERY_BYTES // 1024} KiB",
                ) from None
            raise
        if response.status == 429 or response.status >= 500 or response.status == 408:
            raise_for_status(response.status, None, response.headers.get("retry-after"), [])
        if response.status != 200:
            raise OAuthConfigError(
                "discovery_failed", f"the {what} URL answered HTTP {response.status}"
            )
        try:
            document = json.loads(response.body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise TransientOAuthError(
                "malformed_response", f"the {what} document is not a JSON object"
            )
        return document, len(response.body)

    # -- protected resources (RFC 9728) --------------------------------------------------

    async def discover_resource(self, resource: str) -> ResourceDiscovery:
        """The authorization server of the protected resource ``resource`` (an MCP server's
        URL): its RFC 9728 metadata, at the well-known URLs or where a 401's
        ``WWW-Authenticate`` points, then the server's RFC 8414 / OIDC metadata. Cached for
        ``discovery_ttl`` seconds; a stale answer is used when a refetch fails transiently."""
        cached = self._resources.get(resource)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self._metadata_locks.hold("resource " + resource):
            cached = self._resources.get(resource)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            try:
                found = await self._discover_resource(resource)
            except TransientOAuthError:
                if cached is None:
                    raise
                return cached[0]
            self._resources.put(resource, (found, time.monotonic() + self.discovery_ttl), 4096)
            return found

    async def _discover_resource(self, resource: str) -> ResourceDiscovery:
        if not self._guarded and not is_secure_url(resource):
            raise OAuthConfigError("insecure_url", "the resource URL is not an https URL")
        document: dict[str, Any] | None = None
        for url in resource_metadata_urls(resource):
            try:
                document, _ = await self._fetch_metadata(url, "resource metadata")
                break
            except OAuthConfigError as exc:
                if exc.error != "discovery_failed":
                    raise
        if document is None:
            # RFC 9728 §5: the resource itself says where its metadata is, in its 401.
            probe = await self._http.send("GET", resource, {"Accept": "application/json"}, None)
            hint = resource_metadata_hint(probe.headers.get("www-authenticate", ""))
            if hint is None:
                raise OAuthConfigError(
                    "discovery_failed",
                    "the resource publishes no protected-resource metadata (RFC 9728)",
                )
            document, _ = await self._fetch_metadata(hint, "resource metadata")
        metadata = parse_resource_metadata(document, resource=resource)
        issuer = metadata.authorization_servers[0]
        last: OAuthError | None = None
        for url in authorization_server_metadata_urls(issuer):
            try:
                await self.metadata(url, issuer=issuer)
            except OAuthConfigError as exc:
                if exc.error != "discovery_failed":
                    raise
                last = exc
                continue
            return ResourceDiscovery(metadata, issuer, url)
        assert last is not None
        raise OAuthConfigError(
            "discovery_failed", f"the authorization server {issuer} publishes no metadata"
        )

    # -- client registration (RFC 7591 / 7592) -------------------------------------------

    async def register(
        self, url: str, client_metadata: Mapping[str, Any], *, requested: ClientAuthMethod
    ) -> RegisteredClient:
        """Register a client at ``url`` (RFC 7591 §3.1); the server's answer, parsed."""
        headers, body = registration_request(url, client_metadata)
        response = await self._http.send("POST", url, headers, body)
        payload = decode_body(response.content_type, response.body) if response.body else None
        return parse_registration_response(response.status, payload, requested=requested)

    async def delete_registration(self, client: RegisteredClient) -> bool:
        """Delete a registered client (RFC 7592 §2.3); False when there is no way to."""
        request = deletion_request(client)
        if request is None or (not self._guarded and not is_secure_url(request.url)):
            return False
        headers, _ = request.encode()
        headers.pop("Content-Type", None)
        response = await self._http.send("DELETE", request.url, headers, None)
        return 200 <= response.status < 300

    async def _resolved(self, config: ProviderConfig) -> ProviderConfig:
        if _discoverable(config) and not _has_endpoints(config):
            return await self.resolve(config)
        return config

    # -- the flows ---------------------------------------------------------------------

    def authorization_url(
        self,
        config: ProviderConfig,
        *,
        redirect_uri: str,
        state: str,
        scopes: Sequence[str],
        code_challenge: str | None,
    ) -> str:
        """Where to send the browser. ``config`` must be resolved (see :meth:`resolve`)."""
        if _discoverable(config) and not config.authorization_url:
            raise OAuthConfigError(
                "unresolved_config", "resolve() the configuration before building the URL"
            )
        return messages.authorization_url(
            config,
            redirect_uri=redirect_uri,
            state=state,
            scopes=scopes,
            code_challenge=code_challenge,
        )

    async def exchange_code(
        self,
        config: ProviderConfig,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        callback_params: Mapping[str, str] = {},
    ) -> TokenSet:
        """Trade an authorization code for tokens (RFC 6749 §4.1.3)."""
        config = await self._resolved(config)
        request = messages.code_request(
            config, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        return await self._token(config, request, callback_params)

    async def refresh(
        self,
        config: ProviderConfig,
        refresh_token: Secret,
        *,
        scopes: Sequence[str] = (),
        timeout: float | None = None,
    ) -> TokenSet:
        """New tokens for a refresh token (RFC 6749 §6). A result without ``refresh_token``
        means the old one stays valid. ``timeout`` replaces the client's deadline for the
        token request (not for discovery): a refresher that keeps reading a late answer.

        A lost answer is retried once at once; a refusal of that retry is a
        :class:`PermanentOAuthError` with ``after_lost_answer`` set (the provider saw the
        refresh token reused), and a second lost answer is :data:`ANSWER_LOST`."""
        config = await self._resolved(config)
        request = messages.refresh_request(config, refresh_token, scopes=scopes)
        try:
            return await self._token(config, request, {}, timeout)
        except TransientOAuthError as exc:
            if exc.error != ANSWER_LOST:
                raise
        try:
            return await self._token(config, request, {}, timeout)
        except PermanentOAuthError as exc:
            exc.after_lost_answer = True
            raise

    async def client_credentials(
        self, config: ProviderConfig, *, scopes: Sequence[str] = (), timeout: float | None = None
    ) -> TokenSet:
        """An access token for the client itself (RFC 6749 §4.4). The token endpoint is the
        configured one, else the discovery document's (a ``resource`` alone is not looked up:
        the app names where its tokens come from)."""
        if config.discovery_url and not config.token_url:
            config = apply_metadata(
                config, await self.metadata(config.discovery_url, issuer=config.issuer)
            )
        request = messages.client_credentials_request(config, scopes=scopes)
        return await self._token(config, request, {}, timeout)

    async def call(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One bounded, guarded request to a provider's API (a GitHub App's endpoints):
        status, headers and body. Errors as for token requests: unreachable or slow is
        :class:`TransientOAuthError`, a refused address :class:`OAuthConfigError`; no message
        quotes the request or the answer."""
        if not self._guarded and not is_secure_url(url):
            raise OAuthConfigError(
                "insecure_url", f"{urlsplit(url).hostname or '?'} is not an https URL"
            )
        response = await self._http.send(method, url, dict(headers), body)
        return response.status, response.headers, response.body

    async def device_authorize(
        self, config: ProviderConfig, scopes: Sequence[str]
    ) -> DeviceAuthorization:
        """Start a device authorization (RFC 8628 §3.1): a device code, and the user code and
        URI the user enters it at."""
        if _discoverable(config) and not config.device_authorization_url:
            config = await self.resolve(config)
        request = messages.device_authorization_request(config, scopes)
        check_secret_origin(config, request.url, request.secrets())
        response = await self._post(request)
        return parse_device_authorization(
            status=response.status,
            content_type=response.content_type,
            body=response.body,
            retry_after=response.headers.get("retry-after"),
            secrets=request.secrets(),
        )

    async def poll_device(self, config: ProviderConfig, device_code: Secret) -> TokenSet:
        """One device access token request (RFC 8628 §3.4): tokens, or the OAuth error that
        says to wait (``authorization_pending``, ``slow_down``) or that the flow ended."""
        config = await self._resolved(config)
        return await self._token(config, messages.device_token_request(config, device_code), {})

    async def revoke(self, config: ProviderConfig, token: Secret, *, hint: str) -> bool:
        """Revoke a token at the provider (RFC 7009); False when it has no revocation
        endpoint for this kind of token (``revocation_token_types``), and nothing is sent.
        ``hint`` is ``refresh_token`` or ``access_token``.

        An error body is an error whatever the status: some providers answer HTTP 200 with
        ``{"error": …}``."""
        if _discoverable(config) and not config.revocation_url:
            config = await self.resolve(config)
        if not config.revocation_url or hint not in config.revocation_token_types:
            return False
        request = messages.revocation_request(config, token, hint=hint)
        check_secret_origin(config, request.url, request.secrets())
        response = await self._post(request)
        payload = decode_body(response.content_type, response.body) if response.body else None
        if not 200 <= response.status < 300:
            raise_for_status(
                response.status, payload, response.headers.get("retry-after"), request.secrets()
            )
        if payload is not None and isinstance(payload.get("error"), str) and payload["error"]:
            raise error_from_payload(payload, response.status, request.secrets())
        return True

    async def _token(
        self,
        config: ProviderConfig,
        request: messages.TokenRequest,
        callback_params: Mapping[str, str],
        timeout: float | None = None,
    ) -> TokenSet:
        check_secret_origin(config, request.url, request.secrets())
        response = await self._post(request, timeout)
        return parse_token_response(
            config,
            status=response.status,
            content_type=response.content_type,
            body=response.body,
            now=time.time(),
            retry_after=response.headers.get("retry-after"),
            callback_params=callback_params,
            secrets=request.secrets(),
        )

    # -- bounded HTTP ------------------------------------------------------------------

    async def _post(self, request: messages.TokenRequest, timeout: float | None = None) -> Answer:
        if not self._guarded and not is_secure_url(request.url):
            # RFC 6749 §3.2: credentials and tokens travel only over TLS.
            raise OAuthConfigError(
                "insecure_url", f"{urlsplit(request.url).hostname or '?'} is not an https URL"
            )
        headers, body = request.encode()
        return await self._http.send("POST", request.url, headers, body, timeout)
