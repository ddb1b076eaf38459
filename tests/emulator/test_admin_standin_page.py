"""The admin stand-in page frames the app with Shopify's launch parameters; App Bridge stand-in is served."""

import base64
import re
from html import unescape
from urllib.parse import parse_qsl, urlparse

import pytest

from emulator.id_tokens import verify_id_token
from emulator.oauth import query_hmac
from emulator.server import create_emulator
from emulator.state import EmulatorState

KEY, SECRET = "test-api-key", "test-api-secret"
SHOP = "test-shop.myshopify.com"
APP_URL = "http://127.0.0.1:8000"


@pytest.fixture
def state() -> EmulatorState:
    emulator = EmulatorState(KEY, SECRET)
    emulator.install_shop(SHOP, name="つなぐテスト店")
    return emulator


@pytest.fixture
def client(state):
    return create_emulator(state, app_url=APP_URL).test_client()


def iframe_src(html: str) -> str:
    return unescape(re.search(r'<iframe id="app"[^>]* src="([^"]+)"', html).group(1))


def test_admin_page_frames_the_app_with_signed_launch_parameters(client, state):
    response = client.get("/store/test-shop/apps/tsunagu")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "つなぐテスト店" in html and "<nav>" in html
    src = urlparse(iframe_src(html))
    assert f"{src.scheme}://{src.netloc}{src.path}" == f"{APP_URL}/"
    params = dict(parse_qsl(src.query))
    assert params["embedded"] == "1" and params["shop"] == SHOP and params["locale"] == "ja"
    assert base64.b64decode(params["host"] + "==").decode() == "admin.shopify.com/store/test-shop"
    assert params["hmac"] == query_hmac(params, SECRET)
    claims = verify_id_token(params["id_token"], api_key=KEY, api_secret=SECRET, shop=SHOP)
    assert claims["dest"] == f"https://{SHOP}"


def test_locale_comes_from_the_query_and_defaults_to_japanese(client):
    english = dict(
        parse_qsl(urlparse(iframe_src(client.get("/store/test-shop/apps/tsunagu?locale=en").text)).query)
    )
    bogus = dict(
        parse_qsl(urlparse(iframe_src(client.get("/store/test-shop/apps/tsunagu?locale=xx").text)).query)
    )

    assert english["locale"] == "en"
    assert bogus["locale"] == "ja"


def test_deep_links_frame_the_same_path_of_the_app(client):
    src = urlparse(iframe_src(client.get("/store/test-shop/apps/tsunagu/members/42").text))

    assert src.path == "/members/42"


def test_full_shop_domain_is_accepted_too(client):
    assert client.get(f"/store/{SHOP}/apps/tsunagu").status_code == 200


def test_unknown_shop_or_app_is_404(client):
    assert client.get("/store/nobody/apps/tsunagu").status_code == 404
    assert client.get("/store/test-shop/apps/another-app").status_code == 404


def test_opening_the_app_after_uninstall_installs_it_again(client, state):
    state.shop(SHOP).installed = False

    assert client.get("/store/test-shop/apps/tsunagu").status_code == 200
    assert state.shop(SHOP).installed


def test_id_token_endpoint_mints_fresh_tokens_for_the_right_app_only(client):
    first = client.get("/store/test-shop/id_token", query_string={"client_id": KEY})
    second = client.get("/store/test-shop/id_token", query_string={"client_id": KEY})

    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    token = first.get_json()["id_token"]
    assert verify_id_token(token, api_key=KEY, api_secret=SECRET, shop=SHOP)["aud"] == KEY
    assert token != second.get_json()["id_token"]
    assert client.get("/store/test-shop/id_token", query_string={"client_id": "other"}).status_code == 400


def test_app_bridge_stand_in_is_served_as_javascript(client):
    response = client.get("/app-bridge.js")

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    source = response.get_data(as_text=True)
    for needle in ('meta[name="shopify-api-key"]', "window.shopify", "idToken", "Authorization", "toast"):
        assert needle in source
    assert len(source.splitlines()) < 200


def test_admin_stand_in_only_exists_when_an_app_url_is_given(state):
    assert create_emulator(state).test_client().get("/store/test-shop/apps/tsunagu").status_code == 404
