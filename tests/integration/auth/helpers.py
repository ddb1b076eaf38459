"""Small helpers shared by the auth tests."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Shop, ShopToken
from tests.integration.auth.conftest import SHOP_A, Emulator


def install_via_page_load(client, emulator: Emulator, shop: str = SHOP_A) -> Shop:
    """Open the app home as the admin would; returns the installed shop row."""
    response = client.get(emulator.page_url(shop, id_token=emulator.mint(shop)))
    assert response.status_code == 200, response.get_data(as_text=True)
    return db.session.execute(select(Shop).where(Shop.domain == shop)).scalar_one()


def token_row(shop: Shop) -> ShopToken:
    return db.session.execute(select(ShopToken).where(ShopToken.shop_id == shop.id)).scalar_one()
