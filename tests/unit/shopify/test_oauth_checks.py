"""Authorization-code grant checks: query HMAC (current and previous secret), timestamp freshness."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from app.config import load_settings
from app.install.oauth import OAuthRejected, query_hmac, verify_query_hmac, verify_timestamp
from tests.conftest import TEST_ENV

SETTINGS = load_settings(dict(TEST_ENV, DATABASE_URL="sqlite://"))
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def _signed(secret: str, **params: str) -> dict[str, str]:
    params = {"code": "c0de", "shop": "shop-a.myshopify.com", "state": "n", "timestamp": "1"} | params
    return params | {"hmac": query_hmac(params, secret)}


def test_hmac_matches_shopify_example():
    # The example from shopify.dev "Verify a request" (authorization code grant): message and digest.
    params = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "shop": "some-shop.myshopify.com",
        "state": "0.6784241404160823",
        "timestamp": "1337178173",
    }
    assert query_hmac(params | {"hmac": "x", "signature": "y"}, "hush") == query_hmac(params, "hush")
    message = (
        "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com"
        "&state=0.6784241404160823&timestamp=1337178173"
    )
    import hashlib
    import hmac

    assert query_hmac(params, "hush") == hmac.new(b"hush", message.encode(), hashlib.sha256).hexdigest()


def test_current_and_previous_secret_accepted():
    verify_query_hmac(_signed(SETTINGS.api_secret), SETTINGS)
    verify_query_hmac(_signed(SETTINGS.api_secret_previous), SETTINGS)


@pytest.mark.parametrize(
    "params",
    [
        _signed("wrong-secret"),
        {k: v for k, v in _signed("test-api-secret").items() if k != "hmac"},
        _signed("test-api-secret") | {"shop": "other.myshopify.com"},  # a parameter changed after signing
    ],
)
def test_bad_hmac_rejected(params):
    with pytest.raises(OAuthRejected):
        verify_query_hmac(params, SETTINGS)


def test_hmac_rejected_without_previous_secret_configured():
    settings = dataclasses.replace(SETTINGS, api_secret_previous=None)
    with pytest.raises(OAuthRejected):
        verify_query_hmac(_signed("test-api-secret-previous"), settings)


@pytest.mark.parametrize("offset", [0, 60, -60, 299, -299])
def test_fresh_timestamp_accepted(offset):
    verify_timestamp({"timestamp": str(int((NOW + timedelta(seconds=offset)).timestamp()))}, now=NOW)


STALE = [
    "",
    "abc",
    str(int((NOW - timedelta(minutes=6)).timestamp())),
    str(int((NOW + timedelta(minutes=6)).timestamp())),
    "99999999999999999999",
]


@pytest.mark.parametrize("value", STALE)
def test_stale_or_malformed_timestamp_rejected(value):
    with pytest.raises(OAuthRejected):
        verify_timestamp({"timestamp": value}, now=NOW)
