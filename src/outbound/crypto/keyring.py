"""AES-256-GCM sealing of secret columns.

A sealed value is ``version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag``.
The associated data names the row and column the value belongs to, so a ciphertext copied into
another row (or another column of the same row) fails authentication instead of decrypting as
that row's secret. The key id lets old rows keep decrypting after a new key is added in front.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["DecryptionError", "Keyring", "load_keyring", "parse_master_keys"]

_VERSION = b"\x01"
_HEADER = 1 + 4 + 12


class DecryptionError(Exception):
    """A sealed value could not be opened: wrong row, tampered bytes or an unknown key."""


def _key_id(key: bytes) -> bytes:
    return hmac.new(key, b"outbound key id", hashlib.sha256).digest()[:4]


class Keyring:
    """Seals with the first key; opens with whichever key id the value names."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        for key in keys:
            if len(key) != 32:
                raise ValueError("master keys must be 32 bytes (AES-256)")
        self._primary_id = _key_id(keys[0])
        self._primary_key = bytes(keys[0])
        self._ciphers = {_key_id(key): AESGCM(key) for key in keys}
        # Keys for MACs (the audit chain), derived so that no master key is used for two
        # purposes; named by the same key ids as the sealing keys.
        self._mac_keys = {
            _key_id(key).hex(): hmac.new(key, b"outbound audit mac", hashlib.sha256).digest()
            for key in keys
        }

    def __repr__(self) -> str:
        return f"<Keyring keys={len(self._ciphers)}>"

    @property
    def key_ids(self) -> list[str]:
        """Every key's id, the primary first."""
        return list(self._mac_keys)

    def derive(self, label: str) -> bytes:
        """A 32-byte key for ``label``'s purpose, derived from the primary key (HMAC-SHA256)."""
        return hmac.new(self._primary_key, b"outbound " + label.encode(), hashlib.sha256).digest()

    @staticmethod
    def sealed_by(blob: bytes) -> str:
        """The id of the key a sealed value names (readable without any key)."""
        return bytes(blob[1:5]).hex()

    def mac_key(self, key_id: str | None = None) -> tuple[str, bytes] | None:
        """``(key id, MAC key)`` derived from the primary key, or from the key ``key_id``
        names (None when the keyring no longer holds it)."""
        kid = self._primary_id.hex() if key_id is None else key_id
        key = self._mac_keys.get(kid)
        return None if key is None else (kid, key)

    def seal(self, plaintext: str, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        sealed = self._ciphers[self._primary_id].encrypt(nonce, plaintext.encode(), aad)
        return _VERSION + self._primary_id + nonce + sealed

    def is_current(self, blob: bytes) -> bool:
        """Whether ``blob`` is sealed with the primary (first) key."""
        return bytes(blob[1:5]) == self._primary_id

    def open(self, blob: bytes, aad: bytes) -> str:
        blob = bytes(blob)
        if len(blob) < _HEADER + 16 or blob[:1] != _VERSION:
            raise DecryptionError("sealed value is malformed")
        cipher = self._ciphers.get(blob[1:5])
        if cipher is None:
            raise DecryptionError(f"sealed with unknown key id {blob[1:5].hex()}")
        try:
            return cipher.decrypt(blob[5:17], blob[17:], aad).decode()
        except InvalidTag:
            raise DecryptionError("sealed value failed authentication") from None


def aad(*parts: str) -> bytes:
    """Associated data from the identifying parts of a row and the column name."""
    return "\x1f".join(parts).encode()


_HEX_KEY = re.compile(r"[0-9A-Fa-f]{64}")
# base64 in either alphabet (standard or URL-safe), padding optional; nothing else
_B64_KEY = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


def parse_master_keys(text: str) -> list[bytes]:
    """``OUTBOUND_MASTER_KEY``: one or more comma-separated base64 (or hex) 32-byte keys,
    newest first. Any character outside the encoding is an error, not something to skip: a
    mistyped key must not decode to some other key."""
    keys = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if _HEX_KEY.fullmatch(item):
            key = bytes.fromhex(item)
        elif _B64_KEY.fullmatch(item):
            unpadded = item.rstrip("=").replace("+", "-").replace("/", "_")
            try:
                key = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
            except ValueError:
                raise ValueError("OUTBOUND_MASTER_KEY must be base64 or hex") from None
        else:
            raise ValueError(
                "OUTBOUND_MASTER_KEY must be base64 or hex (comma-separated keys; no other"
                " characters)"
            )
        if len(key) != 32:
            raise ValueError("OUTBOUND_MASTER_KEY must decode to 32 bytes")
        keys.append(key)
    return keys


def generate_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def load_keyring(master_key: str | None, data_dir: Path | None) -> Keyring:
    """The key from the environment, else a key file in the data dir (created 0600)."""
    if master_key:
        return Keyring(parse_master_keys(master_key))
    if data_dir is None:
        raise ValueError(
            "set OUTBOUND_MASTER_KEY (or --master-key): with PostgreSQL every server must seal"
            " with the same key, so it cannot come from a key file on one machine"
        )
    path = data_dir / "master.key"
    if not path.exists():
        if not data_dir.exists():
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Write a private temp file, then link it into place: the link either wins whole or
        # fails because another `serve` on the same data dir already put its key there.
        tmp = data_dir / f".master.key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate_master_key() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return Keyring(parse_master_keys(path.read_text()))
