"""`flask rotate-token-keys`: re-encrypt every stored token under the newest TOKEN_ENCRYPTION_KEYS entry."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select, update

from app.extensions import db
from app.models import ShopToken
from app.shopify.crypto import TokenCipher, TokenDecryptError, cipher_for, token_aad
from app.shopify.sdk import settings


def rotate_token_keys() -> tuple[int, int, int]:
    """Re-encrypt rows not yet under the newest key; returns (re-encrypted, already current, unreadable).

    Each row is rewritten only if its version did not move meanwhile (a concurrent refresh wrote fresh
    ciphertexts under the newest key already), so the command is safe to run beside live workers.
    """
    cipher = cipher_for(settings().token_encryption_keys)
    rotated = current = unreadable = 0
    rows = db.session.execute(
        select(ShopToken.shop_id, ShopToken.version, ShopToken.access_token_enc, ShopToken.refresh_token_enc)
    ).all()
    db.session.rollback()
    for shop_id, version, access_enc, refresh_enc in rows:
        if cipher.is_current(access_enc) and (refresh_enc is None or cipher.is_current(refresh_enc)):
            current += 1
            continue
        try:
            values = {"access_token_enc": _reencrypt(cipher, access_enc, shop_id, "access")}
            if refresh_enc is not None:
                values["refresh_token_enc"] = _reencrypt(cipher, refresh_enc, shop_id, "refresh")
        except TokenDecryptError:
            # Under a key no longer configured: left as is; the shop re-exchanges on its next app load.
            unreadable += 1
            continue
        db.session.execute(
            update(ShopToken)
            .where(ShopToken.shop_id == shop_id, ShopToken.version == version)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        rotated += 1
    return rotated, current, unreadable


def _reencrypt(cipher: TokenCipher, blob: bytes, shop_id: int, field: str) -> bytes:
    aad = token_aad(shop_id, field)
    return cipher.encrypt(cipher.decrypt(blob, aad), aad)


def init_app(app: Flask) -> None:
    """Attach the command to `flask`."""

    @app.cli.command("rotate-token-keys")
    def rotate_token_keys_command() -> None:
        """Re-encrypt every shop token under the first key of TOKEN_ENCRYPTION_KEYS."""
        rotated, current, unreadable = rotate_token_keys()
        click.echo(f"re-encrypted {rotated} token row(s); {current} already under the newest key")
        if unreadable:
            click.echo(f"{unreadable} row(s) are under a key that is not configured; they were left as is")
            raise SystemExit(1)
