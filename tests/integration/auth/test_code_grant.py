"""Non-embedded install: code grant with query HMAC, single-use state, shop regex, fresh timestamp."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from sqlalchemy import select

from app.install.oauth import query_hmac
from app.models import OAuthState, Shop, ShopToken
from tests.integration.auth.conftest import SHOP_A

SECRET = "test-api-secret"


def _authorize(client, emulator, shop=SHOP_A) -> dict[str, str]:
    """GET /auth, then let the emulator's /admin/oauth/authorize approve; returns the callback query."""
    start = client.get(f"/auth?shop={shop}")
    assert start.status_code == 302
    location = urlparse(start.headers["Location"])
    assert (location.netloc, location.path) == (shop, "/admin/oauth/authorize")
    query = parse_qs(location.query)
    assert query["redirect_uri"] == ["https://tsunagu.test/auth/callback"]
    assert "write_customers" in query["scope"][0].split(",")
    with httpx.Client(transport=emulator.transport) as shopify:
        approved = shopify.get(start.headers["Location"])
    assert approved.status_code == 302, approved.text
    callback = urlparse(approved.headers["Location"])
    assert callback.path == "/auth/callback"
    return {k: v[0] for k, v in parse_qs(callback.query).items()}


def _resign(params: dict[str, str], **changes: str) -> dict[str, str]:
    params = {k: v for k, v in params.items() if k != "hmac"} | changes
    return params | {"hmac": query_hmac(params, SECRET)}


def test_code_grant_installs_with_an_expiring_token_and_opens_the_admin(client, emulator, session):
    params = _authorize(client, emulator)
    response = client.get("/auth/callback?" + urlencode(params))
    assert response.status_code == 302
    assert response.headers["Location"] == "https://admin.shopify.com/store/shop-a/apps/tsunagu"
    shop = session.execute(select(Shop).where(Shop.domain == SHOP_A)).scalar_one()
    token = session.get(ShopToken, shop.id)
    assert token.refresh_token_enc is not None and token.access_expires_at is not None
    assert "write_customers" in shop.scopes
    assert session.get(OAuthState, params["state"]).used_at is not None


def test_state_is_single_use(client, emulator):
    params = _authorize(client, emulator)
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 302
    with client.session_transaction() as cookie:
        cookie["oauth_state"] = params["state"]  # even with the browser's cookie replayed
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 400


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: p | {"hmac": "0" * 64}, id="bad hmac"),
        pytest.param(lambda p: {k: v for k, v in p.items() if k != "hmac"}, id="no hmac"),
        pytest.param(lambda p: p | {"code": "other"}, id="parameter changed after signing"),
        pytest.param(lambda p: _resign(p, timestamp=str(int(time.time()) - 600)), id="stale timestamp"),
        pytest.param(lambda p: _resign(p, timestamp="soon"), id="malformed timestamp"),
        pytest.param(lambda p: _resign(p, state="not-the-nonce"), id="unknown state"),
        pytest.param(lambda p: p | {"hmac": "\x80é"}, id="non-ASCII hmac (found by the route fuzz)"),
        pytest.param(lambda p: _resign(p, state="nonce-\x80"), id="non-ASCII state"),
        pytest.param(lambda p: _resign(p, shop="evil.example.com"), id="shop not a myshopify domain"),
        pytest.param(lambda p: _resign(p, shop="shop-b.myshopify.com"), id="state issued for another shop"),
    ],
)
def test_callback_rejections(client, emulator, session, tamper):
    params = tamper(_authorize(client, emulator))
    response = client.get("/auth/callback?" + urlencode(params))
    assert response.status_code == 400
    assert session.execute(select(ShopToken)).first() is None
    assert emulator.state.tokens.exchange_count[SHOP_A] == 0


def test_callback_from_another_browser_is_rejected(client, emulator, app):
    params = _authorize(client, emulator)
    other_browser = app.test_client()
    assert other_browser.get("/auth/callback?" + urlencode(params)).status_code == 400


@pytest.mark.parametrize("shop", ["", "evil.com", "shop.myshopify.com.evil.com", "-x.myshopify.com", "a b"])
def test_auth_start_refuses_invalid_shop_domains(client, shop):
    assert client.get("/auth?" + urlencode({"shop": shop})).status_code == 400


def test_auth_start_with_a_bad_shopify_signature_is_refused(client):
    params = {"shop": SHOP_A, "timestamp": str(int(time.time())), "hmac": "0" * 64}
    assert client.get("/auth?" + urlencode(params)).status_code == 400


@pytest.mark.parametrize(
    "given", ["%C2%80", "%C3%BC" * 64, "%80%FF"], ids=["U+0080", "umlauts", "invalid UTF-8"]
)
def test_auth_start_with_a_non_ascii_signature_is_refused_not_a_server_error(client, given):
    query = f"{urlencode({'shop': SHOP_A, 'timestamp': str(int(time.time()))})}&hmac={given}"
    assert client.get(f"/auth?{query}").status_code == 400


def test_auth_start_writes_nothing(client, session):
    """Anyone can GET /auth: without a verified callback it must not cost a database row."""
    for _ in range(3):
        assert client.get(f"/auth?shop={SHOP_A}").status_code == 302
    assert session.execute(select(OAuthState)).first() is None


def test_a_state_not_signed_by_the_app_is_refused_even_with_a_matching_cookie(client, emulator, session):
    params = _authorize(client, emulator)
    forged = "forged-nonce." + params["state"].split(".")[1] + ".AAAAAAAAAAAAAAAAAAAAAA"
    with client.session_transaction() as cookie:
        cookie["oauth_state"] = forged
    assert client.get("/auth/callback?" + urlencode(_resign(params, state=forged))).status_code == 400
    assert session.execute(select(ShopToken)).first() is None


def test_the_session_cookie_is_secure_httponly_and_samesite_none(client):
    """Set inside the admin's iframe (a third-party context): only SameSite=None; Secure is sent back."""
    cookie = client.get(f"/auth?shop={SHOP_A}").headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes.keys()
    assert attributes["samesite"].strip() == "SameSite=None"
