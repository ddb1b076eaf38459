"""Offline token issue, refresh rotation, expiry and revocation in the TokenStore."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator.tokens import InvalidGrant, TokenStore

SHOP = "rotation.myshopify.com"
SCOPES = {"read_customers", "write_customers"}


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> TokenStore:
    return TokenStore("key", "secret", clock=clock)


def test_expiring_offline_token_has_shopify_response_shape(store):
    body = store.issue_offline(SHOP, SCOPES)

    assert set(body) == {"access_token", "scope", "expires_in", "refresh_token", "refresh_token_expires_in"}
    assert body["access_token"].startswith("shpat_")
    assert body["refresh_token"].startswith("shprt_")
    assert body["scope"] == "read_customers,write_customers"
    assert body["expires_in"] == 3600
    assert body["refresh_token_expires_in"] == 90 * 24 * 3600
    assert store.exchange_count[SHOP] == 1


def test_non_expiring_token_has_no_refresh_token_and_does_not_expire(store, clock):
    body = store.issue_offline(SHOP, SCOPES, expiring=False)

    assert set(body) == {"access_token", "scope"}
    clock.now += 10 * 365 * 24 * 3600
    assert store.check_access(SHOP, body["access_token"]) == SCOPES


def test_access_token_expires_after_its_lifetime(store, clock):
    token = store.issue_offline(SHOP, SCOPES)["access_token"]

    clock.now += 3599
    assert store.check_access(SHOP, token) == SCOPES
    clock.now += 1
    assert store.check_access(SHOP, token) is None


def test_token_is_bound_to_its_shop(store):
    token = store.issue_offline(SHOP, SCOPES)["access_token"]

    assert store.check_access("other.myshopify.com", token) is None


def test_refresh_rotates_and_rejects_the_used_refresh_token(store):
    first = store.issue_offline(SHOP, SCOPES)

    second = store.refresh(SHOP, first["refresh_token"])

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert store.check_access(SHOP, second["access_token"]) == SCOPES
    with pytest.raises(InvalidGrant):
        store.refresh(SHOP, first["refresh_token"])
    third = store.refresh(SHOP, second["refresh_token"])
    assert third["scope"] == first["scope"]
    assert store.refresh_count[SHOP] == 2


def test_expired_refresh_token_is_rejected(store, clock):
    body = store.issue_offline(SHOP, SCOPES)

    clock.now += 90 * 24 * 3600
    with pytest.raises(InvalidGrant):
        store.refresh(SHOP, body["refresh_token"])


def test_unknown_refresh_token_and_other_shop_are_rejected(store):
    body = store.issue_offline(SHOP, SCOPES)

    with pytest.raises(InvalidGrant):
        store.refresh(SHOP, "shprt_unknown")
    with pytest.raises(InvalidGrant):
        store.refresh("other.myshopify.com", body["refresh_token"])


def test_revoke_invalidates_access_and_refresh_tokens(store):
    body = store.issue_offline(SHOP, SCOPES)

    store.revoke(SHOP)

    assert store.check_access(SHOP, body["access_token"]) is None
    with pytest.raises(InvalidGrant):
        store.refresh(SHOP, body["refresh_token"])


def test_expire_access_tokens_keeps_refresh_usable(store):
    body = store.issue_offline(SHOP, SCOPES)

    store.expire_access_tokens(SHOP)

    assert store.check_access(SHOP, body["access_token"]) is None
    assert store.check_access(SHOP, store.refresh(SHOP, body["refresh_token"])["access_token"]) == SCOPES


def test_lenient_rotation_allows_retry_until_the_replacement_is_used(clock):
    store = TokenStore("key", "secret", clock=clock, lenient_rotation=True)
    first = store.issue_offline(SHOP, SCOPES)

    lost = store.refresh(SHOP, first["refresh_token"])  # the app never stored this answer
    retried = store.refresh(SHOP, first["refresh_token"])
    assert retried["refresh_token"] != lost["refresh_token"]

    store.check_access(SHOP, retried["access_token"])  # the app starts using the replacement
    with pytest.raises(InvalidGrant):
        store.refresh(SHOP, first["refresh_token"])


def test_concurrent_refreshes_of_one_token_succeed_exactly_once(store):
    body = store.issue_offline(SHOP, SCOPES)

    def attempt(_: int) -> bool:
        try:
            store.refresh(SHOP, body["refresh_token"])
        except InvalidGrant:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(20)))

    assert results.count(True) == 1
    assert store.refresh_count[SHOP] == 1
