"""CSP frame-ancestors on every HTML response: the verified shop and the admin, else nobody; no wildcard."""

from __future__ import annotations

import pytest

from tests.integration.auth.conftest import SHOP_A
from tests.integration.auth.helpers import install_via_page_load
from tests.integration.auth.test_route_isolation import ROUTES, _urls

SHOP_CSP = f"frame-ancestors https://{SHOP_A} https://admin.shopify.com;"
NOBODY = "frame-ancestors 'none';"
GET_ROUTES = [p for p in ROUTES if p.values[1] == "GET"]


@pytest.mark.parametrize("rule,method,guard", GET_ROUTES)
def test_csp_on_every_html_get_route(client, emulator, shop, rule, method, guard):
    install_via_page_load(client, emulator, SHOP_A)
    for url in _urls(rule, shop.id):
        anonymous = client.get(url)
        if anonymous.mimetype == "text/html":
            assert anonymous.headers["Content-Security-Policy"] == NOBODY, url
        if guard == "embedded_page":
            sep = "&" if "?" in url else "?"
            page = client.get(url + sep + emulator.page_url(SHOP_A, id_token=emulator.mint(SHOP_A))[2:])
            assert page.mimetype == "text/html"
            assert page.headers["Content-Security-Policy"] == SHOP_CSP, url
        assert "*" not in anonymous.headers.get("Content-Security-Policy", "")
        assert anonymous.headers["X-Content-Type-Options"] == "nosniff"


def test_error_pages_and_unknown_paths_cannot_be_framed(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["Content-Security-Policy"] == NOBODY


def test_patch_page_is_frameable_only_by_the_named_shop(client):
    response = client.get(f"/auth/patch-id-token?shop={SHOP_A}&shopify-reload=%2F")
    assert response.headers["Content-Security-Policy"] == SHOP_CSP


def test_stand_in_admin_origin_is_added_only_when_configured(client, emulator, app):
    import dataclasses

    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(settings, admin_origin="http://127.0.0.1:9292")
    try:
        response = client.get(f"/auth/patch-id-token?shop={SHOP_A}&shopify-reload=%2F")
    finally:
        app.config["SETTINGS"] = settings
    assert response.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{SHOP_A} https://admin.shopify.com http://127.0.0.1:9292;"
    )
