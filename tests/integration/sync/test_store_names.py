"""Store names: a POS order's location id becomes the store's name in Shopify, and stays its name."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.dispatch import dispatch
from app.jobs.worker import Worker, WorkerConfig
from app.models import Purchase
from app.models.shop import ShopLocation
from app.shopify.http import shopify_http_client
from app.sync.locations import resolve_locations
from app.sync.runner import run_pass
from app.sync.syncer import sync_shop
from tests.integration.sync.conftest import DOMAIN
from tests.integration.webhooks.support import order_body, post


def _order(world, order_id: int, amount: str, cid: int, location_id: int, minutes: int = 0) -> dict:
    """A POS order of an hour ago on the world's clock; `minutes` later for a newer snapshot."""
    at = world.clock.utc() - timedelta(hours=1)
    return order_body(
        order_id,
        amount,
        customer_id=cid,
        pos_location_id=location_id,
        processed_at=at,
        updated_at=at + timedelta(minutes=minutes),
    )


def _deliver(app, topic: str, body: dict) -> None:
    assert post(app.test_client(), topic, body, shop=DOMAIN).status_code == 200
    Worker(app, WorkerConfig(idle_sleep=0), worker_id="t", handle=dispatch).run(once=True)


def _pass(world, now=None):
    """What the syncer's pass does for store names: resolve locations, then sync (app/sync/runner.py)."""
    world.session.commit()  # the test's own reads end their transaction, as the syncer's loop does
    now = now or world.clock.utc
    refresh = timedelta(seconds=current_app.config["SETTINGS"].location_refresh_seconds)
    pacer = world.pacer()
    resolve_locations(world.session, world.shop, world.client(), pacer, now(), refresh)
    return sync_shop(world.session, world.shop, world.client(), pacer, now=now)


def _store_metafields(world, cid: int) -> tuple[str | None, list]:
    fields = world.remote.customer_metafields(cid)
    history = json.loads(fields["purchase_history"]["value"])
    return fields.get("favorite_store", {}).get("value"), history


def test_a_pos_order_webhook_ends_with_the_store_name_in_shopify(app, world):
    cid = world.customer()
    store = world.remote.add_location("渋谷店")
    calls = world.remote.graphql_calls
    _deliver(app, "orders/create", _order(world, 8101, "12000", cid, store["id"]))
    assert world.remote.graphql_calls == calls  # the worker never asked Shopify
    assert world.session.get(ShopLocation, (world.shop.id, str(store["id"]))).name is None

    _pass(world)
    favorite, history = _store_metafields(world, cid)
    assert favorite == "渋谷店"
    assert json.dumps(history, ensure_ascii=False).count("渋谷店") >= 1
    assert "shopify:" not in json.dumps(history)

    # A later snapshot of the same order (orders/updated) names only the location id: the name stays.
    _deliver(
        app,
        "orders/updated",
        _order(world, 8101, "11000", cid, store["id"], minutes=5),
    )
    purchase = world.session.scalar(select(Purchase).where(Purchase.source_id == "8101"))
    assert (purchase.gross_amount, purchase.location_name) == (11000, "渋谷店")
    _pass(world)
    assert _store_metafields(world, cid)[0] == "渋谷店"


def test_a_second_order_at_a_known_store_is_named_by_the_worker_itself(app, world):
    cid = world.customer()
    store = world.remote.add_location("梅田店")
    _deliver(app, "orders/create", _order(world, 8201, "5000", cid, store["id"]))
    _pass(world)
    calls = world.remote.graphql_calls
    _deliver(app, "orders/create", _order(world, 8202, "6000", cid, store["id"]))
    purchase = world.session.scalar(select(Purchase).where(Purchase.source_id == "8202"))
    assert purchase.location_name == "梅田店" and world.remote.graphql_calls == calls


def test_a_renamed_store_is_renamed_in_shopify_after_the_refresh_interval(app, world):
    cid = world.customer()
    store = world.remote.add_location("福岡店")
    _deliver(app, "orders/create", _order(world, 8301, "5000", cid, store["id"]))
    _pass(world)
    world.remote.rename_location(store["id"], "福岡天神店")
    _pass(world)
    assert _store_metafields(world, cid)[0] == "福岡店"  # known names are not re-read on every pass
    refresh = current_app.config["SETTINGS"].location_refresh_seconds
    tomorrow = world.clock.utc() + timedelta(seconds=refresh + 1)
    _pass(world, now=lambda: tomorrow)
    favorite, history = _store_metafields(world, cid)
    assert favorite == "福岡天神店" and '福岡店"' not in json.dumps(history, ensure_ascii=False)


def test_a_deleted_location_keeps_its_last_name_and_unknown_ones_do_not_stop_the_sync(app, world):
    cid = world.customer()
    _deliver(app, "orders/create", _order(world, 8401, "5000", cid, 424242))
    assert _pass(world).confirmed == 1
    row = world.session.get(ShopLocation, (world.shop.id, "424242"))
    assert row.name is None and row.checked_at is not None


def test_the_syncer_pass_resolves_store_names(app, world):
    cid = world.customer()
    store = world.remote.add_location("渋谷店")
    _deliver(app, "orders/create", _order(world, 8501, "12000", cid, store["id"]))
    world.session.commit()
    with shopify_http_client(current_app.config["SETTINGS"]) as http:
        result = run_pass(world.session, world.shop, world.client(), world.pacer(), http, holder="t")
    assert result.error is None
    assert _store_metafields(world, cid)[0] == "渋谷店"
