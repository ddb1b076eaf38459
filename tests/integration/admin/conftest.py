"""Dashboard tests: the app talks to the in-process emulator; requests carry App Bridge session tokens."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from emulator.fixtures import TEST_SHOP
from emulator.oauth import admin_host_param


@dataclass
class Admin:
    """Acts as the Shopify admin around the app: page loads with an id_token, fetches with a Bearer."""

    client: FlaskClient
    mint: object

    def page(self, path: str = "/", locale: str = "en", **params):
        query = {"embedded": "1", "host": admin_host_param(TEST_SHOP), "shop": TEST_SHOP, "locale": locale}
        query.update(params)
        query["id_token"] = self.mint()
        return self.client.get(f"{path}?{urlencode(query)}")

    def html(self, path: str = "/", locale: str = "en", **params) -> str:
        response = self.page(path, locale, **params)
        assert response.status_code == 200, response.get_data(as_text=True)[:2000]
        return response.get_data(as_text=True)

    def post(self, path: str, data: dict, locale: str = "en"):
        headers = {"Authorization": f"Bearer {self.mint()}", "Accept": "application/json"}
        return self.client.post(path, data={**data, "locale": locale}, headers=headers)

    def fetch(self, path: str):
        return self.client.get(path, headers={"Authorization": f"Bearer {self.mint()}"})


@pytest.fixture
def admin(app, client, session, emulator_transport, mint_id_token) -> Admin:
    """The admin stand-in for one test; the shop installs itself by token exchange on the first load."""
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport
    try:
        yield Admin(client, mint_id_token)
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)


@pytest.fixture
def installed(admin, session):
    """The test shop, installed through a first page load (token exchange against the emulator)."""
    from sqlalchemy import select

    from app.models import Shop

    admin.html("/")
    return session.scalar(select(Shop).where(Shop.domain == TEST_SHOP))
