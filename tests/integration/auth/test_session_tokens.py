"""Session tokens: forged, wrong aud, expired, not yet valid, iss/dest mismatch -> refused; skew ok."""

import time

import pytest

from tests.integration.auth.conftest import SHOP_A
from tests.integration.auth.helpers import install_via_page_load

RETRY = "X-Shopify-Retry-Invalid-Session-Request"

BAD_TOKENS = {
    "forged signature": {"key": "not-the-app-secret-but-long-enough-to-sign"},
    "wrong aud": {"aud": "another-apps-client-id"},
    "expired beyond 70 s": {"issued_at_offset": -71},
    "nbf in the future beyond skew": {"nbf_offset": 15},
    "iss names another shop": {"iss": "https://shop-b.myshopify.com/admin"},
    "dest not a shop": {"dest": "https://evil.example.com", "iss": "https://evil.example.com/admin"},
    "no exp claim": {"omit": ("exp",)},
    "no nbf claim": {"omit": ("nbf",)},
    "alg none": {"algorithm": "none", "key": ""},
    # Shopify's tokens live one minute: a signed token valid for a year (or issued long ago) is refused.
    "lives a year": {"lifetime": 365 * 24 * 3600},
    "issued an hour ago, still valid": {"iat": int(time.time()) - 3600},
}


def _mint(emulator, spec: dict) -> str:
    spec = dict(spec)
    now = time.time()
    if "issued_at_offset" in spec:
        spec["issued_at"] = now + spec.pop("issued_at_offset")
    if "nbf_offset" in spec:
        spec["nbf"] = int(now + spec.pop("nbf_offset"))
    return emulator.mint(SHOP_A, **spec)


@pytest.fixture
def installed(client, emulator):
    return install_via_page_load(client, emulator)


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_fetch_with_bad_token_gets_401_and_retry_header(client, emulator, installed, case):
    token = _mint(emulator, BAD_TOKENS[case])
    response = client.get("/api/shop", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"
    assert SHOP_A not in response.get_data(as_text=True)


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_page_load_with_bad_token_is_not_served(client, emulator, installed, case):
    token = _mint(emulator, BAD_TOKENS[case])
    response = client.get(emulator.page_url(SHOP_A, id_token=token))
    assert response.status_code in (302, 401)
    if response.status_code == 302:  # stale or unverifiable: App Bridge fetches a fresh token
        assert response.headers["Location"].startswith("https://tsunagu.test/auth/patch-id-token?")
    assert "write_customers" not in response.get_data(as_text=True)


def test_fetch_without_authorization_header_gets_401_and_retry(client, emulator, installed):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = client.get("/api/shop?id_token=" + emulator.mint(SHOP_A), headers=headers)
        assert response.status_code == 401
        assert response.headers[RETRY] == "1"


def test_clock_skew_within_ten_seconds_is_tolerated(client, emulator, installed):
    now = time.time()
    expired_5s_ago = emulator.mint(SHOP_A, issued_at=now - 65)
    nbf_5s_ahead = emulator.mint(SHOP_A, nbf=int(now + 5))
    for token in (expired_5s_ago, nbf_5s_ahead):
        response = client.get("/api/shop", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_data(as_text=True)


def test_token_signed_with_the_previous_secret_is_accepted_during_rotation(client, emulator, installed):
    token = emulator.mint(SHOP_A, key="test-api-secret-previous")
    assert client.get("/api/shop", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_shop_parameter_never_overrides_the_token(client, emulator, installed):
    url = emulator.page_url(SHOP_A, id_token=emulator.mint(SHOP_A)).replace(
        f"shop={SHOP_A}", "shop=shop-b.myshopify.com"
    )
    response = client.get(url)
    assert response.status_code == 200
    assert f"frame-ancestors https://{SHOP_A} " in response.headers["Content-Security-Policy"]
