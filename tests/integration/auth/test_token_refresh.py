"""Expiring offline tokens: refresh before expiry and on 401, exactly once per shop under concurrency."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Shop, ShopToken
from app.models.types import utcnow
from app.shopify.client import AdminClient
from app.shopify.crypto import cipher_for, token_aad
from app.shopify.errors import ShopifyAuthError
from app.shopify.tokens import access_token_for
from app.shops.installs import exchange_id_token
from emulator.server import emulator_of
from emulator.tokens import InvalidGrant
from tests.integration.auth.conftest import SHOP_A

WORKERS = 20


def _install(emulator) -> int:
    shop = exchange_id_token(SHOP_A, emulator.mint(SHOP_A))
    shop_id = shop.id
    db.session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return shop_id


def _decrypt(app, shop_id: int, field: str) -> str:
    row = db.session.execute(select(ShopToken).where(ShopToken.shop_id == shop_id)).scalar_one()
    db.session.refresh(row)
    blob = row.access_token_enc if field == "access" else row.refresh_token_enc
    db.session.commit()  # end the read: on SQLite an open reader blocks the refresher's commit
    return cipher_for(app.config["SETTINGS"].token_encryption_keys).decrypt(blob, token_aad(shop_id, field))


def _expire_in_db(shop_id: int, seconds_left: int = -1) -> None:
    db.session.execute(
        update(ShopToken)
        .where(ShopToken.shop_id == shop_id)
        .values(access_expires_at=utcnow() + timedelta(seconds=seconds_left))
    )
    db.session.commit()


def _hammer(app, shop_id: int) -> list[object]:
    """WORKERS threads, each with its own app context and DB connection, call Shopify at the same moment."""
    barrier = threading.Barrier(WORKERS)

    def work(_):
        with app.app_context():
            # Like a job: load the shop, end the read, call Shopify (token code uses its own session).
            shop = db.session.get(Shop, shop_id)
            db.session.expunge(shop)
            db.session.remove()
            barrier.wait()
            try:
                return AdminClient(shop).execute("shop_details")["shop"]["currencyCode"]
            except Exception as exc:  # reported, not raised: the assertion shows every failure
                return exc
            finally:
                db.session.remove()

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(work, range(WORKERS)))


def test_twenty_workers_on_an_expired_token_cause_exactly_one_refresh(app, committed, emulator):
    shop_id = _install(emulator)
    old_refresh = _decrypt(app, shop_id, "refresh")
    emulator.state.tokens.expire_access_tokens(SHOP_A)
    _expire_in_db(shop_id)

    results = _hammer(app, shop_id)

    assert results == ["JPY"] * WORKERS
    assert emulator.state.tokens.refresh_count[SHOP_A] == 1
    new_refresh = _decrypt(app, shop_id, "refresh")
    assert new_refresh != old_refresh  # the rotated refresh token was stored with the new access token
    assert emulator.state.tokens.check_access(SHOP_A, _decrypt(app, shop_id, "access")) is not None
    with pytest.raises(InvalidGrant):  # the old one is spent: a second refresh with it would have failed
        emulator.state.tokens.refresh(SHOP_A, old_refresh)


def test_a_slow_refresh_makes_the_others_wait_not_fail(app, committed, emulator):
    """Shopify takes 1.5 s to answer the refresh: nobody gives up, nobody refreshes a second time."""
    shop_id = _install(emulator)
    emulator_of(emulator.wsgi).faults.add("slow", path="/admin/oauth/access_token", delay=1.5, times=1)
    emulator.state.tokens.expire_access_tokens(SHOP_A)
    _expire_in_db(shop_id)

    results = _hammer(app, shop_id)

    assert results == ["JPY"] * WORKERS
    assert emulator.state.tokens.refresh_count[SHOP_A] == 1


def test_twenty_workers_hitting_401_refresh_once(app, committed, emulator):
    """The database still thinks the token is fresh; Shopify says 401: one refresh, everyone retries once."""
    shop_id = _install(emulator)
    emulator.state.tokens.expire_access_tokens(SHOP_A)

    results = _hammer(app, shop_id)

    assert results == ["JPY"] * WORKERS
    assert emulator.state.tokens.refresh_count[SHOP_A] == 1


def test_refresh_happens_before_expiry_within_the_margin(app, session, emulator):
    shop = exchange_id_token(SHOP_A, emulator.mint(SHOP_A))
    before = access_token_for(shop)
    _expire_in_db(shop.id, seconds_left=120)  # inside the five-minute margin
    after = access_token_for(shop)
    assert after != before
    assert emulator.state.tokens.refresh_count[SHOP_A] == 1
    assert access_token_for(shop) == after  # fresh now: no further refresh
    assert emulator.state.tokens.refresh_count[SHOP_A] == 1


def test_token_version_moves_on_every_refresh(app, session, emulator):
    shop = exchange_id_token(SHOP_A, emulator.mint(SHOP_A))
    version = session.get(ShopToken, shop.id).version
    access_token_for(shop, rejected=access_token_for(shop))
    session.expire_all()
    assert session.get(ShopToken, shop.id).version == version + 1


def test_revoked_refresh_token_drops_the_pair_until_the_app_is_opened(app, session, client, emulator):
    shop = exchange_id_token(SHOP_A, emulator.mint(SHOP_A))
    emulator.state.tokens.revoke(SHOP_A)
    _expire_in_db(shop.id)
    with pytest.raises(ShopifyAuthError):
        AdminClient(shop).execute("shop_details")
    session.expire_all()
    assert session.get(ShopToken, shop.id) is None
    # The merchant opens the app: the next page load exchanges a fresh pair and calls work again.
    assert client.get(emulator.page_url(SHOP_A, id_token=emulator.mint(SHOP_A))).status_code == 200
    assert emulator.state.tokens.exchange_count[SHOP_A] == 2
    assert AdminClient(shop).execute("shop_details")["shop"]["currencyCode"] == "JPY"


def test_a_rejected_token_someone_else_already_replaced_is_not_refreshed_again(app, session, emulator):
    shop = exchange_id_token(SHOP_A, emulator.mint(SHOP_A))
    first = access_token_for(shop)
    second = access_token_for(shop, rejected=first)  # refreshes
    third = access_token_for(shop, rejected=first)  # stale rejection: re-reads
    assert second == third
    assert emulator.state.tokens.refresh_count[SHOP_A] == 1
