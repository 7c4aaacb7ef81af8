"""Where a client secret may go: the origins of the endpoints it was entered for.

A client secret is issued for one authorization server. The vault records, when the secret is
entered, the origins of the endpoints it is sent to (token, refresh, revocation — as resolved,
discovery included) and the engine refuses to send it anywhere else
(:class:`SecretOriginError`), whatever the app's configuration or a metadata document says
later. Pure functions; the client calls :func:`check_secret_origin` before every POST.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .config import ProviderConfig
from .errors import OAuthConfigError

__all__ = ["SecretOriginError", "check_secret_origin", "origin", "secret_origins"]

_DEFAULT_PORTS = {"https": 443, "http": 80}


class SecretOriginError(OAuthConfigError):
    """The request would carry the client secret to an origin it is not bound to; nothing was
    sent. The app's client secret must be entered again for the new endpoint."""

    def __init__(self, url: str) -> None:
        super().__init__(
            "secret_origin_changed",
            f"the app's endpoint moved to {origin(url) or '?'}, an origin its client secret was"
            " not entered for; nothing was sent: give the app's client secret again (app"
            " update with clientSecret) if that origin is right",
        )


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (default port filled in, host lowercased); "" for a
    URL without a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if not parts.hostname:
        return ""
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS.get(scheme, 0)}"


def secret_origins(resolved: ProviderConfig) -> tuple[str, ...]:
    """The origins a resolved configuration sends its client secret to (sorted, unique)."""
    urls = (
        resolved.token_url,
        resolved.refresh_url,
        resolved.revocation_url,
        resolved.device_authorization_url,
    )
    return tuple(sorted({origin(url) for url in urls if url} - {""}))


def check_secret_origin(config: ProviderConfig, url: str, sent: list[str]) -> None:
    """Raise :class:`SecretOriginError` when ``sent`` (the secrets of a request to ``url``)
    holds the configuration's client secret and ``url`` is not at an origin it is bound to
    (``config.secret_origins``; None: not recorded, not checked)."""
    if config.secret_origins is None or config.client_secret is None:
        return
    secret = config.client_secret.reveal()
    if secret and secret in sent and origin(url) not in config.secret_origins:
        raise SecretOriginError(url)
