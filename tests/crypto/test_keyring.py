"""The keyring in this process (so that mutation testing can see it): a sealed value opens only
with the associated data it was sealed for and a key of the ring, new values are sealed with the
first key, and a master key is read exactly as written or refused."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from outbound.crypto import DecryptionError, Keyring
from outbound.crypto.keyring import aad, load_keyring, parse_master_keys

OLD, NEW = b"\x01" * 32, b"\x02" * 32
AAD = aad("tokens", "prj", "app", "user", "", "", "access_token")


def test_a_value_opens_with_its_associated_data_only() -> None:
    ring = Keyring([NEW])
    blob = ring.seal("s3cret", AAD)
    assert ring.open(blob, AAD) == "s3cret"
    assert b"s3cret" not in blob
    for other in (
        aad("tokens", "prj", "app", "user", "", "", "refresh_token"),
        aad("tokens", "prj", "app", "other", "", "", "access_token"),
        AAD + b"x",
        b"",
    ):
        with pytest.raises(DecryptionError, match=r"^sealed value failed authentication$"):
            ring.open(blob, other)


def test_the_parts_of_the_associated_data_cannot_be_shifted() -> None:
    # "a" + "b\x1fc" must not equal "a\x1fb" + "c": the separator keeps parts apart
    assert aad("ab", "c") != aad("a", "bc")
    assert aad("a", "b") == b"a\x1fb"


def test_each_seal_uses_a_fresh_nonce() -> None:
    ring = Keyring([NEW])
    first, second = ring.seal("same", AAD), ring.seal("same", AAD)
    assert first[5:17] != second[5:17]
    assert first != second


def test_new_values_are_sealed_with_the_first_key_and_old_ones_still_open() -> None:
    old_ring = Keyring([OLD])
    old_blob = old_ring.seal("old value", AAD)
    rotated = Keyring([NEW, OLD])
    assert rotated.open(old_blob, AAD) == "old value"
    assert not rotated.is_current(old_blob)
    new_blob = rotated.seal("new value", AAD)
    assert rotated.is_current(new_blob)
    assert Keyring.sealed_by(new_blob) == rotated.key_ids[0] == Keyring([NEW]).key_ids[0]
    assert Keyring.sealed_by(old_blob) == old_ring.key_ids[0] != rotated.key_ids[0]
    assert rotated.key_ids == [Keyring([NEW]).key_ids[0], old_ring.key_ids[0]]
    # the value sealed with the new key opens with the new key alone, not the old one
    assert Keyring([NEW]).open(new_blob, AAD) == "new value"
    with pytest.raises(DecryptionError, match="unknown key id"):
        old_ring.open(new_blob, AAD)


def test_a_value_whose_key_left_the_ring_does_not_open() -> None:
    blob = Keyring([OLD]).seal("v", AAD)
    with pytest.raises(DecryptionError, match=f"unknown key id {blob[1:5].hex()}"):
        Keyring([NEW]).open(blob, AAD)


def test_a_forged_key_id_does_not_open_with_the_other_key() -> None:
    ring = Keyring([NEW, OLD])
    blob = bytearray(ring.seal("v", AAD))
    blob[1:5] = bytes.fromhex(Keyring([OLD]).key_ids[0])
    with pytest.raises(DecryptionError, match=r"^sealed value failed authentication$"):
        ring.open(bytes(blob), AAD)


@pytest.mark.parametrize("where", [0, 5, 17, -1])
def test_a_tampered_value_does_not_open(where: int) -> None:
    ring = Keyring([NEW])
    blob = bytearray(ring.seal("value", AAD))
    blob[where] ^= 0x01
    with pytest.raises(DecryptionError):
        ring.open(bytes(blob), AAD)


def test_a_truncated_value_is_malformed() -> None:
    ring = Keyring([NEW])
    blob = ring.seal("", AAD)
    assert len(blob) == 1 + 4 + 12 + 16
    assert ring.open(blob, AAD) == ""
    with pytest.raises(DecryptionError, match=r"^sealed value is malformed$"):
        ring.open(blob[:-1], AAD)
    with pytest.raises(DecryptionError, match=r"^sealed value is malformed$"):
        ring.open(b"\x02" + blob[1:], AAD)


def test_a_keyring_takes_32_byte_keys_only() -> None:
    with pytest.raises(ValueError, match=r"^a keyring needs at least one key$"):
        Keyring([])
    for key in (b"\x01" * 31, b"\x01" * 33, b"\x01" * 16):
        with pytest.raises(ValueError, match="32 bytes"):
            Keyring([NEW, key])


def test_mac_keys_differ_from_the_sealing_keys_and_follow_the_key_ids() -> None:
    ring = Keyring([NEW, OLD])
    primary = ring.mac_key()
    assert primary is not None
    assert primary[0] == ring.key_ids[0]
    assert primary[1] not in (NEW, OLD) and len(primary[1]) == 32
    old_id = Keyring([OLD]).key_ids[0]
    old = ring.mac_key(old_id)
    assert old is not None and old[0] == old_id and old[1] != primary[1]
    assert ring.mac_key("00000000") is None
    assert Keyring([NEW]).mac_key() == primary
    assert repr(ring) == "<Keyring keys=2>"


def test_master_keys_are_read_in_any_encoding_newest_first() -> None:
    raw = [os.urandom(32) for _ in range(4)]
    text = ", ".join(
        [
            raw[0].hex(),
            base64.b64encode(raw[1]).decode(),
            base64.urlsafe_b64encode(raw[2]).decode().rstrip("="),
            base64.b64encode(raw[3]).decode().rstrip("="),
        ]
    )
    assert parse_master_keys(text + ",") == raw
    assert parse_master_keys(raw[0].hex().upper()) == [raw[0]]


@pytest.mark.parametrize(
    "text, error",
    [
        ("not a key!", "base64 or hex"),
        (base64.b64encode(b"\x01" * 32).decode() + "*", "base64 or hex"),
        (base64.b64encode(b"\x01" * 31).decode(), "32 bytes"),
        ("a", "base64 or hex"),
        ("ab" * 33, "32 bytes"),
    ],
)
def test_a_mistyped_master_key_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_master_keys(text)


def test_a_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_keyring(None, data_dir)
    key_file = data_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert [p.name for p in data_dir.iterdir()] == ["master.key"]
    again = load_keyring(None, data_dir)
    assert again.key_ids[0] == first.key_ids[0]
    assert again.open(first.seal("v", AAD), AAD) == "v"


def test_the_environment_key_wins_over_the_key_file(tmp_path: Path) -> None:
    load_keyring(None, tmp_path)
    ring = load_keyring(NEW.hex(), tmp_path)
    assert ring.key_ids[0] == Keyring([NEW]).key_ids[0]


def test_without_a_key_or_a_data_dir_there_is_no_keyring() -> None:
    with pytest.raises(ValueError, match="OUTBOUND_MASTER_KEY"):
        load_keyring(None, None)


def test_key_ids_and_derived_keys_stay_what_stored_rows_were_made_with() -> None:
    """Rows name the key that sealed them, audit links carry MACs and other keys are derived
    from the master key: an upgrade that derived any of them differently would leave every
    stored value unreadable or every audit link broken. Pinned for one known key."""
    ring = Keyring([NEW])
    assert ring.key_ids[0] == "c31e1deb"
    assert ring.mac_key() == (
        "c31e1deb",
        bytes.fromhex("089cf7705844a8d00b05cc42d7556e93a486383259fe0749e028ae48cdb9e2bf"),
    )
    assert ring.derive("session") == bytes.fromhex(
        "1e11631d78ab2e2d1055e255263845059f9a107d72216b4d3b5ba9621a85ce67"
    )
    assert ring.derive("session") != ring.derive("other") != Keyring([OLD]).derive("other")
    # derived from the primary (first) key only
    assert Keyring([NEW, OLD]).derive("session") == ring.derive("session")


def test_empty_entries_between_keys_are_skipped_not_the_end() -> None:
    assert parse_master_keys(f" ,{NEW.hex()}, ,{OLD.hex()}") == [NEW, OLD]


def test_a_key_file_is_created_in_a_data_dir_that_does_not_exist_yet(tmp_path: Path) -> None:
    ring = load_keyring(None, tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b" / "master.key").exists()
    assert load_keyring(None, tmp_path / "a" / "b").key_ids[0] == ring.key_ids[0]
