"""In Chromium: the admin stand-in frames an app whose fetches carry fresh id_tokens (App Bridge stand-in)."""

import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server

from emulator.id_tokens import InvalidIdToken, verify_id_token
from emulator.server import create_emulator
from emulator.state import EmulatorState

pytestmark = pytest.mark.e2e
KEY, SECRET = "test-api-key", "test-api-secret"
SHOP = "test-shop.myshopify.com"

PAGE = """<!doctype html><html><head>
<meta name="shopify-api-key" content="{key}">
<script src="{emulator}/app-bridge.js"></script>
<title>Tsunagu</title></head>
<body><p id="out">loading</p><script>
document.addEventListener("DOMContentLoaded", async () => {{
  const response = await fetch("/api/whoami", {{ method: "POST", body: "hello" }});
  const body = await response.json();
  document.getElementById("out").textContent = body.shop + " " + body.body;
  shopify.toast.show("ようこそ " + body.shop);
  document.title = "会員一覧";
  history.pushState({{}}, "", "/members?page=2");
}});
</script></body></html>"""


def serve(app) -> tuple[str, object]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


@pytest.fixture
def servers() -> Iterator[tuple[str, str, list[str]]]:
    seen: list[str] = []
    app = Flask(__name__)
    state = EmulatorState(KEY, SECRET)
    state.install_shop(SHOP, name="つなぐテスト店")
    app_origin, app_server = serve(app)
    emulator_origin, emulator_server = serve(create_emulator(state, app_url=app_origin))

    @app.get("/")
    def home():
        return PAGE.format(key=KEY, emulator=emulator_origin)

    @app.post("/api/whoami")
    def whoami():
        auth = request.headers.get("Authorization", "")
        seen.append(auth)
        if len(seen) == 1:
            # Reject the first session token the way the app does, asking App Bridge to retry once.
            return jsonify(error="stale"), 401, {"X-Shopify-Retry-Invalid-Session-Request": "1"}
        try:
            claims = verify_id_token(auth.removeprefix("Bearer "), api_key=KEY, api_secret=SECRET, shop=SHOP)
        except InvalidIdToken as exc:
            return jsonify(error=str(exc)), 401
        return jsonify(shop=claims["dest"].removeprefix("https://"), body=request.get_data(as_text=True))

    @app.get("/bounce")
    def bounce():
        # What the app does with a stale id_token: send the iframe to shopifyapp's patch page.
        return redirect("/patch?" + urlencode({"shop": SHOP, "shopify-reload": "/landed?page=7"}))

    @app.get("/patch")
    def patch():
        return f'<script data-api-key="{KEY}" src="{emulator_origin}/app-bridge.js"></script><p>bouncing</p>'

    @app.get("/landed")
    def landed():
        try:
            verify_id_token(request.args.get("id_token", ""), api_key=KEY, api_secret=SECRET, shop=SHOP)
        except InvalidIdToken as exc:
            return f"<p id='result'>rejected: {exc}</p>"
        return (
            f'<meta name="shopify-api-key" content="{KEY}">'
            f'<script src="{emulator_origin}/app-bridge.js"></script>'
            f"<p id='result'>verified {request.args.get('page')}</p>"
            "<button id='leave' onclick=\"window.open('https://admin.shopify.com/store/test-shop/apps/tsunagu/"
            "members', '_top')\">leave</button>"
        )

    yield app_origin, emulator_origin, seen
    app_server.shutdown()
    emulator_server.shutdown()


def test_embedded_app_gets_bearer_tokens_toasts_and_syncs_title_and_location(servers, browser):
    sync_api = pytest.importorskip("playwright.sync_api")
    _, emulator_origin, seen = servers
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{emulator_origin}/store/test-shop/apps/tsunagu")
        frame = page.frame_locator("#app")
        sync_api.expect(frame.locator("#out")).to_have_text(f"{SHOP} hello", timeout=10_000)
        sync_api.expect(page.locator(".toast")).to_have_text(f"ようこそ {SHOP}")
        sync_api.expect(page.locator("#app-title")).to_have_text("会員一覧")
        page.wait_for_url("**/store/test-shop/apps/tsunagu/members?page=2&locale=ja")
    finally:
        context.close()

    assert len(seen) == 2 and all(auth.startswith("Bearer ey") for auth in seen)
    assert seen[0] != seen[1]  # the retry asked the admin page for a fresh token


def test_patch_id_token_bounce_and_top_level_navigation(servers, browser):
    sync_api = pytest.importorskip("playwright.sync_api")
    _, emulator_origin, _ = servers
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{emulator_origin}/store/test-shop/apps/tsunagu/bounce")
        frame = page.frame_locator("#app")
        sync_api.expect(frame.locator("#result")).to_have_text("verified 7", timeout=10_000)
        frame.locator("#leave").click()
        page.wait_for_url("**/store/test-shop/apps/tsunagu/members")
    finally:
        context.close()
