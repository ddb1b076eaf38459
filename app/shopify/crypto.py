"""Tokens at rest: AES-256-GCM under a key list (first encrypts, all decrypt), key id in the ciphertext."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = b"\x01"  # layout: FORMAT | key id (8) | nonce (12) | ciphertext+tag
KEY_ID_LEN = 8
NONCE_LEN = 12


class TokenDecryptError(Exception):
    """The ciphertext was made under an unknown key, altered, or bound to another shop/field."""


def parse_key(value: str) -> bytes:
    """32 key bytes from a TOKEN_ENCRYPTION_KEYS entry.

    Base64 (standard or URL-safe) of exactly 32 bytes is used as is. Any other string is accepted as a
    passphrase and stretched to 32 bytes with HKDF-SHA256, so an operator can paste a long random string;
    it is only as strong as that string.
    """
    text = value.strip()
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            return raw
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tsunagu/token-keys", info=b"aes-256-gcm").derive(
        text.encode()
    )


def key_id(key: bytes) -> bytes:
    """A short, non-secret fingerprint naming the key inside each ciphertext."""
    return hashlib.sha256(b"tsunagu/key-id|" + key).digest()[:KEY_ID_LEN]


class TokenCipher:
    """Encrypts under the newest key, decrypts under any configured key."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("TOKEN_ENCRYPTION_KEYS is empty")
        parsed = [parse_key(k) for k in keys]
        self.primary_id = key_id(parsed[0])
        self._primary = AESGCM(parsed[0])
        self._by_id = {key_id(k): AESGCM(k) for k in reversed(parsed)}

    def encrypt(self, plaintext: str, aad: bytes) -> bytes:
        """Ciphertext bound to `aad` (shop and column), so a value cannot be moved to another row."""
        nonce = os.urandom(NONCE_LEN)
        return FORMAT + self.primary_id + nonce + self._primary.encrypt(nonce, plaintext.encode(), aad)

    def decrypt(self, blob: bytes, aad: bytes) -> str:
        """The plaintext, or TokenDecryptError."""
        blob = bytes(blob)
        if len(blob) < 1 + KEY_ID_LEN + NONCE_LEN + 16 or blob[:1] != FORMAT:
            raise TokenDecryptError("not a token ciphertext")
        kid, nonce, body = (
            blob[1 : 1 + KEY_ID_LEN],
            blob[1 + KEY_ID_LEN : 1 + KEY_ID_LEN + NONCE_LEN],
            blob[1 + KEY_ID_LEN + NONCE_LEN :],
        )
        aead = self._by_id.get(kid)
        if aead is None:
            raise TokenDecryptError("encrypted under a key that is not configured")
        try:
            return aead.decrypt(nonce, body, aad).decode()
        except InvalidTag as exc:
            raise TokenDecryptError("ciphertext does not verify") from exc

    def is_current(self, blob: bytes) -> bool:
        """True when the ciphertext is already under the newest key."""
        return bytes(blob)[1 : 1 + KEY_ID_LEN] == self.primary_id


@lru_cache(maxsize=8)
def cipher_for(keys: tuple[str, ...]) -> TokenCipher:
    """A cached cipher per key list (parsing and HKDF once per process)."""
    return TokenCipher(keys)


def token_aad(shop_id: int, field: str) -> bytes:
    """Associated data binding a token ciphertext to its shop and column."""
    return f"shop_tokens|{shop_id}|{field}".encode()
