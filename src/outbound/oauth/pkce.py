"""Proof Key for Code Exchange (RFC 7636), S256 only: ``plain`` protects nothing."""

from __future__ import annotations

import base64
import hashlib
import secrets

__all__ = ["new_verifier", "s256_challenge"]


def new_verifier() -> str:
    """A fresh code verifier: 64 URL-safe characters (384 bits), inside RFC 7636's 43..128."""
    return secrets.token_urlsafe(48)


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 §4.2)."""
    if not 43 <= len(verifier) <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
