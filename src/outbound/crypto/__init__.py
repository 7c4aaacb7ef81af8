"""Encryption at rest: every secret column is sealed with AES-256-GCM by a :class:`Keyring`."""

from .keyring import DecryptionError, Keyring, aad, generate_master_key, load_keyring

__all__ = ["DecryptionError", "Keyring", "aad", "generate_master_key", "load_keyring"]
