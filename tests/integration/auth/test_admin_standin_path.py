"""The demo path: the admin stand-in frames the app; the App Bridge stand-in supplies fresh tokens."""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

from tests.integration.auth.conftest import SHOP_A


def test_admin_frame_loads_the_app_home_and_fetches_with_a_fresh_token(client, emulator, app):
    admin = emulator.wsgi.test_client()
    frame = admin.get("/store/shop-a/apps/tsunagu?locale=en")
    assert frame.status_code == 200
    src = html.unescape(re.search(r'<iframe id="app"[^>]* src="([^"]+)"', frame.get_data(as_text=True))[1])
    url = urlparse(src)
    assert f"{url.scheme}://{url.netloc}" == app.config["SETTINGS"].app_url

    page = client.get(f"{url.path}?{url.query}")  # exactly what the iframe requests
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith(f"frame-ancestors https://{SHOP_A} ")
    assert emulator.state.tokens.exchange_count[SHOP_A] == 1

    fresh = admin.get("/store/shop-a/id_token?client_id=test-api-key").get_json()["id_token"]
    api = client.get("/api/shop", headers={"Authorization": f"Bearer {fresh}"})
    assert api.status_code == 200 and api.get_json()["domain"] == SHOP_A
