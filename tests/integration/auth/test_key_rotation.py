"""`flask rotate-token-keys`: every row re-encrypted under the newest key; old keys then cannot read it."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta

import pytest

from app.models import ShopToken
from app.models.types import utcnow
from app.shopify.crypto import cipher_for, token_aad
from app.shopify.errors import ShopifyAuthError
from app.shopify.tokens import TokenGrant, access_token_for, store_grant

NEW_KEY = base64.b64encode(b"n" * 32).decode()


@pytest.fixture
def rotated_settings(app):
    settings = app.config["SETTINGS"]
    old_keys = settings.token_encryption_keys
    yield dataclasses.replace(settings, token_encryption_keys=(NEW_KEY, *old_keys))
    app.config["SETTINGS"] = settings


def test_rotate_command_reencrypts_under_the_newest_key(app, session, shop, rotated_settings):
    store_grant(session, shop, TokenGrant("shpat_x", "", utcnow() + timedelta(hours=1), "shprt_x", None))
    session.commit()
    old_blob = session.get(ShopToken, shop.id).access_token_enc

    app.config["SETTINGS"] = rotated_settings
    result = app.test_cli_runner().invoke(args=["rotate-token-keys"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 token row(s)" in result.output

    session.expire_all()
    row = session.get(ShopToken, shop.id)
    assert row.access_token_enc != old_blob
    new_only = cipher_for((NEW_KEY,))
    assert new_only.decrypt(row.access_token_enc, token_aad(shop.id, "access")) == "shpat_x"
    assert new_only.decrypt(row.refresh_token_enc, token_aad(shop.id, "refresh")) == "shprt_x"
    assert access_token_for(shop) == "shpat_x"

    again = app.test_cli_runner().invoke(args=["rotate-token-keys"])
    assert "re-encrypted 0 token row(s); 1 already under the newest key" in again.output


def test_tokens_stay_readable_while_both_keys_are_configured(app, session, shop, rotated_settings):
    store_grant(session, shop, TokenGrant("shpat_y", "", utcnow() + timedelta(hours=1), None, None))
    session.commit()
    app.config["SETTINGS"] = rotated_settings  # new key first, old key still listed: old rows decrypt
    assert access_token_for(shop) == "shpat_y"


def test_rows_under_a_dropped_key_are_reported_not_lost(app, session, shop, rotated_settings):
    store_grant(session, shop, TokenGrant("shpat_z", "", utcnow() + timedelta(hours=1), None, None))
    session.commit()
    blob = session.get(ShopToken, shop.id).access_token_enc
    app.config["SETTINGS"] = dataclasses.replace(rotated_settings, token_encryption_keys=(NEW_KEY,))

    result = app.test_cli_runner().invoke(args=["rotate-token-keys"])
    assert result.exit_code == 1
    assert "1 row(s) are under a key that is not configured" in result.output
    session.expire_all()
    assert session.get(ShopToken, shop.id).access_token_enc == blob
    with pytest.raises(ShopifyAuthError):
        access_token_for(shop)
