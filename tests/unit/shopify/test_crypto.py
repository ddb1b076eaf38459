"""Tokens at rest: AES-GCM, key list rotation, key ids, binding to shop and column."""

import base64
import os

import pytest

from app.shopify.crypto import TokenCipher, TokenDecryptError, parse_key, token_aad

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.urlsafe_b64encode(os.urandom(32)).decode()
AAD = token_aad(1, "access")


def test_round_trip_and_no_plaintext_in_ciphertext():
    cipher = TokenCipher([KEY_A])
    blob = cipher.encrypt("shpat_secret_value", AAD)
    assert b"shpat_secret_value" not in blob
    assert cipher.decrypt(blob, AAD) == "shpat_secret_value"


def test_same_plaintext_encrypts_differently_each_time():
    cipher = TokenCipher([KEY_A])
    assert cipher.encrypt("x", AAD) != cipher.encrypt("x", AAD)


def test_first_key_encrypts_all_keys_decrypt():
    old = TokenCipher([KEY_A]).encrypt("token", AAD)
    rotated = TokenCipher([KEY_B, KEY_A])
    assert rotated.decrypt(old, AAD) == "token"
    assert not rotated.is_current(old)
    fresh = rotated.encrypt("token", AAD)
    assert rotated.is_current(fresh)
    with pytest.raises(TokenDecryptError):
        TokenCipher([KEY_A]).decrypt(fresh, AAD)  # the old-only deployment cannot read the new key's rows


def test_ciphertext_is_bound_to_shop_and_column():
    cipher = TokenCipher([KEY_A])
    blob = cipher.encrypt("token", token_aad(1, "access"))
    for other in (token_aad(2, "access"), token_aad(1, "refresh")):
        with pytest.raises(TokenDecryptError):
            cipher.decrypt(blob, other)


def test_tampering_is_detected():
    cipher = TokenCipher([KEY_A])
    blob = bytearray(cipher.encrypt("token", AAD))
    blob[-1] ^= 1
    with pytest.raises(TokenDecryptError):
        cipher.decrypt(bytes(blob), AAD)
    with pytest.raises(TokenDecryptError):
        cipher.decrypt(b"plaintext", AAD)


def test_keys_base64_of_32_bytes_used_as_is_other_strings_derived():
    assert parse_key(KEY_A) == b"a" * 32
    assert parse_key(KEY_B.rstrip("=")) == base64.urlsafe_b64decode(KEY_B)
    derived = parse_key("a long operator passphrase that is not base64!")
    assert len(derived) == 32
    assert derived == parse_key("a long operator passphrase that is not base64!")
    assert parse_key(base64.b64encode(b"short").decode()) != b"short"  # not 32 bytes: derived, not used raw


def test_empty_key_list_is_refused():
    with pytest.raises(ValueError):
        TokenCipher([])
