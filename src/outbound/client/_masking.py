"""Keep secrets out of reprs and logs.

Results are plain dicts as on the wire (``token["token"]["token"]`` works, ``json.dumps``
works), but their ``repr`` — and so ``print(result)``, tracebacks and f-strings — shows stars
in place of tokens, API keys and client secrets.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MASK", "SECRET_FIELDS", "MaskedDict", "redact"]

MASK = "**********"

# Wire fields that hold a secret, in requests (uploads, app create/update) or in answers.
SECRET_FIELDS = frozenset(
    {
        "token",
        "accessToken",
        "refreshToken",
        "idToken",
        "apiKey",
        "clientSecret",
        "managementKey",
        "authorization",
        "Authorization",
        # OAuth's names (the token-exchange answer and form)
        "access_token",
        "refresh_token",
        "subject_token",
    }
)


class MaskedDict(dict[str, Any]):
    """A ``dict`` whose ``repr`` masks the string values of secret fields, at any depth."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact(dict(self)))

    __str__ = __repr__


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret field's string replaced by stars."""
    if isinstance(value, dict):
        return {
            key: MASK if key in SECRET_FIELDS and isinstance(item, str) and item else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
