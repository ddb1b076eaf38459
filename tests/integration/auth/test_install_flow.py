"""Managed install in the admin: page load -> token exchange -> encrypted pair -> GraphQL works."""

import re
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from app.extensions import db
from app.models import Shop, ShopToken
from app.shopify.client import AdminClient
from app.shopify.crypto import cipher_for, token_aad
from app.shops.installs import mark_uninstalled, update_scopes
from tests.integration.auth.conftest import SHOP_A
from tests.integration.auth.helpers import install_via_page_load, token_row


def test_first_page_load_exchanges_and_a_graphql_call_succeeds(client, emulator, app):
    shop = install_via_page_load(client, emulator)

    assert emulator.state.tokens.exchange_count[SHOP_A] == 1
    assert shop.is_installed and "write_customers" in shop.scopes
    row = token_row(shop)
    live = emulator.state.tokens.live_access_tokens(SHOP_A)
    assert len(live) == 1
    assert live[0].encode() not in row.access_token_enc  # encrypted, not stored in the clear
    assert row.refresh_token_enc is not None and b"shprt_" not in row.refresh_token_enc
    cipher = cipher_for(app.config["SETTINGS"].token_encryption_keys)
    assert cipher.decrypt(row.access_token_enc, token_aad(shop.id, "access")) == live[0]
    assert row.access_expires_at is not None and row.refresh_expires_at is not None
    # Shop details were read from Shopify on install.
    assert shop.name == "Shop-A Store" or shop.name == emulator.state.shop(SHOP_A).name
    data = AdminClient(shop).execute("shop_details")
    assert data["shop"]["currencyCode"] == "JPY"


def test_second_page_load_reuses_the_stored_token(client, emulator):
    install_via_page_load(client, emulator)
    install_via_page_load(client, emulator)
    assert emulator.state.tokens.exchange_count[SHOP_A] == 1


def test_home_page_shows_shop_scopes_and_layout(client, emulator):
    response = client.get(emulator.page_url(id_token=emulator.mint(), locale="ja"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="ja">' in html
    head = html.split("<head>", 1)[1].split("</head>", 1)[0]
    # App Bridge meta and script come first in <head>, then Polaris and the local stylesheet.
    tags = re.findall(r"<(?:meta|script|link|title)\b[^>]*>", head)
    assert tags[0] == '<meta name="shopify-api-key" content="test-api-key">'
    assert tags[1] == '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js">'
    assert head.index("app-bridge.js") < head.index("polaris-1.js") < head.index("tsunagu.css")
    # Polaris pinned to major version 1 (the stable 1.x channel), never the unversioned polaris.js.
    assert tags[2] == '<script src="https://cdn.shopify.com/shopifycloud/polaris-1.js">'
    # The admin's sidebar is `s-app-nav` with `s-link` items (no home entry: the app's name is the home link).
    nav = html.split("<s-app-nav>", 1)[1].split("</s-app-nav>", 1)[0]
    assert "ui-nav-menu" not in html and 'rel="home"' not in nav
    assert re.findall(r"<s-link href=\"/(\w[\w-]*)\?", nav)[:2] == ["members", "segments"]
    assert "write_customers" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_a_page_load_remembers_the_admins_language_for_the_shop(client, emulator):
    client.get(emulator.page_url(id_token=emulator.mint(), locale="ja"))
    shop = db.session.execute(select(Shop).where(Shop.domain == SHOP_A)).scalar_one()
    assert shop.locale == "ja"
    client.get(emulator.page_url(id_token=emulator.mint(), locale="en-US"))
    db.session.refresh(shop)
    assert shop.locale == "en"
    client.get(emulator.page_url(id_token=emulator.mint(), locale="xx"))  # unsupported: kept as it was
    db.session.refresh(shop)
    assert shop.locale == "en"


def test_page_load_without_id_token_goes_to_the_patch_page(client, emulator):
    response = client.get(emulator.page_url(locale="en"))
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert location.path == "/auth/patch-id-token"
    query = parse_qs(location.query)
    assert query["shop"] == [SHOP_A]
    assert query["shopify-reload"][0].startswith("/?")
    patch = client.get(f"{location.path}?{location.query}")
    body = patch.get_data(as_text=True)
    assert patch.status_code == 200
    assert 'data-api-key="test-api-key"' in body and "app-bridge.js" in body
    assert patch.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{SHOP_A} https://admin.shopify.com;"
    )


def test_patch_page_refuses_a_shop_that_is_not_a_shop_domain(client):
    response = client.get("/auth/patch-id-token?shop=evil.com%3B%20script-src%20*&shopify-reload=%2F")
    assert response.status_code == 400
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none';"


def test_patch_page_uses_the_configured_app_bridge(client, app):
    import dataclasses

    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(
        settings, app_bridge_url="http://127.0.0.1:9292/app-bridge.js"
    )
    try:
        body = client.get(f"/auth/patch-id-token?shop={SHOP_A}&shopify-reload=%2F").get_data(as_text=True)
    finally:
        app.config["SETTINGS"] = settings
    assert 'src="http://127.0.0.1:9292/app-bridge.js"' in body and "cdn.shopify.com" not in body


def test_uninstall_deletes_tokens_and_reinstall_exchanges_again(client, emulator, session):
    shop = install_via_page_load(client, emulator)
    assert mark_uninstalled(session, shop) is True
    session.commit()
    assert session.get(ShopToken, shop.id) is None
    assert shop.status == "uninstalled" and shop.uninstalled_at is not None

    again = install_via_page_load(client, emulator)
    assert again.id == shop.id and again.is_installed and again.uninstalled_at is None
    assert emulator.state.tokens.exchange_count[SHOP_A] == 2
    assert token_row(again) is not None


def test_late_uninstall_webhook_does_not_undo_a_reinstall(client, emulator, session):
    from datetime import timedelta

    shop = install_via_page_load(client, emulator)
    before_install = shop.installed_at - timedelta(minutes=1)
    assert mark_uninstalled(session, shop, occurred_at=before_install) is False
    assert shop.is_installed and session.get(ShopToken, shop.id) is not None


def test_scopes_update_shows_features_needing_missing_scopes(client, emulator, session):
    shop = install_via_page_load(client, emulator)
    update_scopes(session, shop, "read_customers,read_orders")
    session.commit()

    html = client.get(emulator.page_url(id_token=emulator.mint())).get_data(as_text=True)
    assert 'data-feature="member_sync"' in html and "write_customers" in html
    api = client.get("/api/shop", headers=emulator.bearer()).get_json()
    assert api["scopes"] == ["read_customers", "read_orders"]
    assert api["missing_scopes"]["member_sync"] == ["write_customers"]
    assert "segments" not in api["missing_scopes"]  # read_customers is granted


def test_fetch_creates_nothing_for_another_shop_and_reads_only_its_own(client, emulator):
    install_via_page_load(client, emulator)
    body = client.get("/api/shop?shop=shop-b.myshopify.com", headers=emulator.bearer()).get_json()
    assert body["domain"] == SHOP_A
    assert db.session.execute(select(Shop).where(Shop.domain == "shop-b.myshopify.com")).first() is None


def test_pages_load_polaris_from_the_configured_url(client, emulator, app):
    import dataclasses

    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(settings, polaris_url="https://cdn.example/polaris-next.js")
    try:
        html = client.get(emulator.page_url(id_token=emulator.mint(), locale="en")).get_data(as_text=True)
    finally:
        app.config["SETTINGS"] = settings
    assert '<script src="https://cdn.example/polaris-next.js"' in html
