"""A string wrapper whose ``repr``/``str`` never show the value.

Every secret the vault handles (access, refresh and id tokens, API keys, client secrets,
management keys) travels inside :class:`Secret` until the moment it is written to the wire,
so an accidental log line, traceback or f-string prints stars instead.
"""

from __future__ import annotations

__all__ = ["Secret", "reveal"]


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            import hmac

            return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self.reveal()))

    def __bool__(self) -> bool:
        return bool(self.reveal())

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling a secret is almost always a mistake (caches, multiprocessing logs).
        raise TypeError("Secret values cannot be pickled")


def reveal(value: Secret | str | None) -> str | None:
    """Unwrap a secret (or pass a plain string / None through)."""
    if isinstance(value, Secret):
        return value.reveal()
    return value
