"""Nothing logs a token or a secret: every log record through install, calls, refresh and rejections."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from app.shopify.client import AdminClient
from app.shopify.tokens import access_token_for
from tests.integration.auth.conftest import SHOP_A
from tests.integration.auth.helpers import install_via_page_load
from tests.integration.auth.test_code_grant import _authorize


def _issued_tokens(emulator) -> set[str]:
    store = emulator.state.tokens
    tokens: set[str] = set()
    for shop in (*store._access, *store._refresh):  # test-only peek: every token ever issued
        tokens |= set(store._access.get(shop, {})) | set(store._refresh.get(shop, {}))
    return tokens


def test_install_refresh_and_rejections_log_no_secret(app, client, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    id_tokens = [emulator.mint(SHOP_A) for _ in range(3)]
    shop = install_via_page_load(client, emulator)
    client.get(emulator.page_url(SHOP_A, id_token=id_tokens[0]))
    AdminClient(shop).execute("shop_details")
    emulator.state.tokens.expire_access_tokens(SHOP_A)  # 401 -> refresh -> retry
    AdminClient(shop).execute("shop_details")
    access_token_for(shop, rejected=access_token_for(shop))  # a second refresh
    forged = emulator.mint(SHOP_A, key="forged-forged-forged-forged-forged-forged")
    client.get("/api/shop", headers={"Authorization": f"Bearer {forged}"})
    client.get(emulator.page_url(SHOP_A, id_token=forged))
    params = _authorize(client, emulator, "shop-b.myshopify.com")
    client.get("/auth/callback?" + urlencode(params))
    client.get("/auth/callback?" + urlencode(params | {"hmac": "0" * 64}))

    settings = app.config["SETTINGS"]
    secrets = {
        settings.api_secret,
        settings.api_secret_previous,
        *settings.token_encryption_keys,
        *_issued_tokens(emulator),
        *id_tokens,
        forged,
        params["code"],  # (the state nonce is not a secret: it travels in the browser's URLs)
    }
    secrets.discard(None)
    assert len(_issued_tokens(emulator)) >= 6  # exchange, two refreshes, code grant: pairs of tokens
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records
    )
    assert "token refreshed" in logged  # the capture works and saw the refresh
    leaked = sorted(s for s in secrets if s and s in logged)
    assert leaked == []
