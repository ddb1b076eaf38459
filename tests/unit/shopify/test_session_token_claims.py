"""Claim checks the app adds on top of shopifyapp: required claims, dest shape, iss/dest agreement."""

import pytest

from app.shopify.session_token import InvalidSessionToken, shop_from_claims, valid_shop_domain

GOOD = {
    "iss": "https://shop-a.myshopify.com/admin",
    "dest": "https://shop-a.myshopify.com",
    "aud": "key",
    "exp": 2,
    "nbf": 1,
    "iat": 1,
}


def test_shop_comes_from_dest():
    assert shop_from_claims(GOOD) == "shop-a.myshopify.com"


@pytest.mark.parametrize("claim", ["iss", "dest", "aud", "exp", "nbf", "iat"])
def test_missing_claim_is_rejected(claim):
    claims = {k: v for k, v in GOOD.items() if k != claim}
    with pytest.raises(InvalidSessionToken):
        shop_from_claims(claims)


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://shop-b.myshopify.com/admin"},  # iss names another shop
        {"iss": "https://shop-a.myshopify.com/"},  # not the admin
        {"iss": "http://shop-a.myshopify.com/admin"},
        {"dest": "https://evil.example.com", "iss": "https://evil.example.com/admin"},
        {"dest": "http://shop-a.myshopify.com"},
        {"dest": "https://shop-a.myshopify.com:8443", "iss": "https://shop-a.myshopify.com:8443/admin"},
        {"dest": "https://-bad.myshopify.com", "iss": "https://-bad.myshopify.com/admin"},
    ],
)
def test_mismatched_or_malformed_iss_dest_is_rejected(overrides):
    with pytest.raises(InvalidSessionToken):
        shop_from_claims(GOOD | overrides)


@pytest.mark.parametrize(
    "value,ok",
    [
        ("shop-a.myshopify.com", True),
        ("a.myshopify.com", True),
        ("Shop.myshopify.com", False),
        ("shop.myshopify.com.evil.com", False),
        ("shop.myshopify.com;x", False),
        ("-shop.myshopify.com", False),
        ("shop_a.myshopify.com", False),
        ("", False),
        (None, False),
    ],
)
def test_shop_domain_regex(value, ok):
    assert (valid_shop_domain(value) is not None) is ok
