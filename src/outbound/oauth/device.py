"""The device authorization grant (RFC 8628) as pure data: the provider's answer to a device
authorization request, and what each polling answer means.

The vault is the "device": it asks the provider for a device code and a user code
(:func:`parse_device_authorization`), shows the user code and verification URI to the app, and
polls the token endpoint every ``interval`` seconds with the device code. What a polling answer
means (:func:`poll_outcome`, §3.5): ``authorization_pending`` → poll again after the interval;
``slow_down`` → the interval grows by 5 seconds for this and every later poll; ``expired_token``
and ``access_denied`` end the flow; tokens end it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..secret import Secret
from .errors import OAuthError, TransientOAuthError
from .tokens import _expires_in, decode_body, raise_for_status

__all__ = [
    "DEFAULT_INTERVAL",
    "SLOW_DOWN_STEP",
    "DeviceAuthorization",
    "PollOutcome",
    "parse_device_authorization",
    "poll_outcome",
]

# §3.2: "If no value is provided, clients MUST use 5 as the default."
DEFAULT_INTERVAL = 5
# §3.5: on slow_down "the interval MUST be increased by 5 seconds for this and all subsequent
# requests".
SLOW_DOWN_STEP = 5
# A device code the provider says lives longer than this is polled no longer than this.
MAX_EXPIRES_IN = 3600
_MAX_TEXT = 2048


@dataclass(frozen=True)
class DeviceAuthorization:
    """A provider's device authorization response (§3.2); the device code stays secret."""

    device_code: Secret
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int

    def __repr__(self) -> str:
        return (
            f"DeviceAuthorization(user_code=..., verification_uri={self.verification_uri!r},"
            f" expires_in={self.expires_in}, interval={self.interval})"
        )


def _text(payload: dict[str, object], name: str) -> str:
    value = payload.get(name)
    return value if isinstance(value, str) and len(value) <= _MAX_TEXT else ""


def _https_or_loopback(url: str) -> bool:
    return url.startswith("https://") or url.startswith(("http://127.0.0.1", "http://localhost"))


def parse_device_authorization(
    *, status: int, content_type: str, body: bytes, retry_after: str | None, secrets: list[str]
) -> DeviceAuthorization:
    """Read the answer to a device authorization request; errors raise as token errors do."""
    payload = decode_body(content_type, body)
    raise_for_status(status, payload, retry_after, secrets)
    if payload is None:
        raise TransientOAuthError(
            "malformed_response", "the device authorization answer is not a JSON object"
        )
    device_code = _text(payload, "device_code")
    user_code = _text(payload, "user_code")
    # "verification_url" is what Google's device endpoint says instead
    uri = _text(payload, "verification_uri") or _text(payload, "verification_url")
    complete = _text(payload, "verification_uri_complete")
    if not device_code or not user_code or not uri:
        raise TransientOAuthError(
            "malformed_response",
            "the device authorization answer lacks device_code, user_code or verification_uri",
        )
    if not _https_or_loopback(uri) or (complete and not _https_or_loopback(complete)):
        raise TransientOAuthError(
            "malformed_response", "the device authorization answer's verification URI is not https"
        )
    expires_in = _expires_in(payload.get("expires_in")) or 600
    interval = _expires_in(payload.get("interval")) or DEFAULT_INTERVAL
    return DeviceAuthorization(
        device_code=Secret(device_code),
        user_code=user_code,
        verification_uri=uri,
        verification_uri_complete=complete,
        expires_in=min(expires_in, MAX_EXPIRES_IN),
        interval=max(1, min(interval, 300)),
    )


PollOutcome = Literal["pending", "slow_down", "failed", "retry"]


def poll_outcome(error: OAuthError) -> PollOutcome:
    """What a polling request that did not return tokens means for the flow (§3.5):
    ``pending`` (poll again after the interval), ``slow_down`` (the same, 5 s slower from now
    on), ``retry`` (the provider or the network failed for now: poll again later) or
    ``failed`` (``expired_token``, ``access_denied`` or any other refusal: the flow ends)."""
    if error.error == "authorization_pending":
        return "pending"
    if error.error == "slow_down":
        return "slow_down"
    if isinstance(error, TransientOAuthError):
        return "retry"
    return "failed"
