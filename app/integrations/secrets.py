"""Integration secrets at rest, under the AES-GCM key list of the Shopify tokens (app/shopify/crypto.py)."""

from __future__ import annotations

from flask import current_app

from app.shopify.crypto import cipher_for


def _aad(shop_id: int, field: str) -> bytes:
    # Bound to the shop and the column: a ciphertext copied to another row or field does not decrypt.
    return f"integrations|{shop_id}|{field}".encode()


def seal(shop_id: int, field: str, value: str) -> bytes:
    """Encrypt `value` for one shop and column under the newest key."""
    return cipher_for(current_app.config["SETTINGS"].token_encryption_keys).encrypt(
        value, _aad(shop_id, field)
    )


def unseal(shop_id: int, field: str, blob: bytes) -> str:
    """Decrypt what `seal` produced (TokenDecryptError if altered or under an unknown key)."""
    return cipher_for(current_app.config["SETTINGS"].token_encryption_keys).decrypt(
        blob, _aad(shop_id, field)
    )
