"""The in-process Shopify emulator wired into the app (SHOPIFY_TRANSPORT), and helpers to act as the admin."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from flask import Flask

from emulator.id_tokens import IdTokenMinter
from emulator.oauth import admin_host_param
from emulator.server import emulator_of
from emulator.state import EmulatorState

SHOP_A = "shop-a.myshopify.com"
SHOP_B = "shop-b.myshopify.com"


@dataclass
class Emulator:
    """The emulator's state, an id_token minter, and the transport the app calls it through."""

    state: EmulatorState
    minter: IdTokenMinter
    transport: httpx.BaseTransport
    wsgi: Flask

    def mint(self, shop: str = SHOP_A, **claims) -> str:
        return self.minter.mint(shop, **claims)

    def page_url(self, shop: str = SHOP_A, path: str = "/", id_token: str | None = None, **params) -> str:
        """A page load as the admin makes it: id_token, shop, host, embedded (+ locale etc.)."""
        query = {"embedded": "1", "host": admin_host_param(shop), "shop": shop, **params}
        if id_token is not None:
            query["id_token"] = id_token
        return f"{path}?{urlencode(query)}"

    def bearer(self, shop: str = SHOP_A, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(shop, **claims)}"}


@pytest.fixture
def emulator(app, emulator_state, emulator_app, emulator_transport):
    """The project's emulator fixtures with two more shops, wired in as the app's Shopify."""
    for domain in (SHOP_A, SHOP_B):
        emulator_state.install_shop(domain, name=f"{domain.split('.')[0]} store")
    emu = Emulator(
        state=emulator_state,
        minter=emulator_of(emulator_app).id_tokens,
        transport=emulator_transport,
        wsgi=emulator_app,
    )
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport
    try:
        yield emu
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)
