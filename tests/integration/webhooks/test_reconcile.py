"""Reconciliation against the emulator: GraphQL and REST give one event, and dropped webhooks get credited."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.dispatch import dispatch
from app.extensions import db
from app.jobs.worker import Worker, WorkerConfig
from app.models import InboxEvent, LedgerTransaction, Purchase, ShopSyncStatus
from app.shopify.client import AdminClient
from app.shopify.payloads.graphql import order_from_graphql
from app.shopify.payloads.rest import legacy_id, order_from_rest
from app.shopify.tokens import TokenGrant
from app.shops.installs import complete_install
from app.sync.reconcile import (
    OVERLAP,
    _pages,
    check_subscriptions,
    reconcile_shop,
    subscribed_topics,
    topic_enum,
)
from emulator.demo_data import DemoSpec, load_into
from emulator.graphql_view import create_graphql_blueprint
from emulator.state import EmulatorState
from emulator.transport import emulator_transport
from emulator.webhook_sender import WebhookSender
from tests.conftest import TEST_ENV
from tests.integration.webhooks.support import SECRET, SHOP

SPEC = DemoSpec(customers=50, orders=200, days=60)


@pytest.fixture
def remote(app, committed):
    """An emulated shop with demo orders, reachable by the app's Admin client; the app's shop installed."""
    state = EmulatorState(TEST_ENV["SHOPIFY_API_KEY"], TEST_ENV["SHOPIFY_API_SECRET"])
    shop_state = state.install_shop(SHOP, plan="plus")  # 1000 points/s: paging 200 orders is not throttled
    load_into(state, SHOP, spec=SPEC)
    wsgi = Flask("shopify-emulator")
    wsgi.register_blueprint(create_graphql_blueprint(state))
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport(wsgi)
    session = committed.session
    grant = TokenGrant.from_response(
        state.tokens.issue_offline(SHOP, set(state.config.scopes), expiring=False)
    )
    shop = complete_install(session, SHOP, grant)
    shop.installed_at = SPEC.start - timedelta(days=1)  # the watermark starts at the install
    session.commit()
    try:
        yield shop_state, shop
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)


def drain(app) -> None:
    # The webhook requests ran in the test's app context: end its session's transaction, which on SQLite
    # holds the write lock the worker needs.
    db.session.commit()
    Worker(app, WorkerConfig(idle_sleep=0, batch_size=50), worker_id="reconcile-test", handle=dispatch).run(
        once=True
    )


def test_graphql_and_rest_normalisers_give_the_same_event_for_every_demo_order(committed, remote):
    shop_state, shop = remote
    first = min(shop_state.orders)
    shop_state.update_order(
        first, cancelled_at=shop_state.orders[first]["created_at"], cancel_reason="customer"
    )
    nodes = list(_pages(AdminClient(shop, session=committed.session), "updated_at:>='2000-01-01T00:00:00Z'"))
    assert len(nodes) == len(shop_state.orders) >= SPEC.orders
    kinds = {"pos": 0, "walk_in": 0, "refunded": 0, "cancelled": 0}
    for node in nodes:
        rest = shop_state.orders[int(legacy_id(node["id"]))]
        event = order_from_rest(rest, SHOP)
        from_graphql = order_from_graphql(node, SHOP)
        # GraphQL also names the store (`retailLocation.name`); REST bodies carry the location id only.
        store = shop_state.locations.get(int(event.location_id)) if event.location_id else None
        assert from_graphql.location_name == (store["name"] if store else None)
        assert replace(from_graphql, location_name=None) == event
        kinds["pos"] += event.location_id is not None
        kinds["walk_in"] += event.customer_ref is None
        kinds["refunded"] += bool(event.refunds)
        kinds["cancelled"] += event.cancelled
    assert all(kinds.values()), kinds  # the comparison covered every shape


def test_one_reconciliation_run_credits_the_dropped_webhooks_once(app, committed, remote):
    shop_state, shop = remote
    session = committed.session
    orders = sorted(shop_state.orders.values(), key=lambda o: o["updated_at"])
    sender = WebhookSender(SECRET, app, drop_ratio=0.05, seed=5, max_retries=0)
    for order in orders:
        sender.send(SHOP, "orders/create", order)
    dropped = {str(d.payload()["id"]) for d in sender.dropped}
    assert 4 <= len(dropped) <= 20  # about 5 % of 200
    drain(app)
    members_orders = {str(o["id"]) for o in orders if o.get("customer") and not o.get("test")}
    credited = set(session.scalars(select(Purchase.source_id)))
    assert credited == members_orders - dropped

    result = reconcile_shop(session, shop)
    drain(app)
    session.rollback()
    assert set(session.scalars(select(Purchase.source_id))) == members_orders
    earns = session.execute(
        select(LedgerTransaction.source_id, func.count())
        .where(LedgerTransaction.kind == "earn")
        .group_by(LedgerTransaction.source_id)
    ).all()
    assert all(count == 1 for _, count in earns)  # never twice
    assert result.orders_seen == len(orders) and result.undelivered == len(dropped)
    assert session.scalar(select(func.count()).where(InboxEvent.status == "dead")) == 0
    status = session.get(ShopSyncStatus, shop.id)
    assert status.orders_watermark == max(order_from_rest(o, SHOP).source_updated_at for o in orders)
    assert status.webhooks_missing == ["orders/create", "orders/updated"]  # orders changed, no webhook came

    again = reconcile_shop(session, shop)
    assert again.recorded == 0  # the overlap window re-reads orders, the inbox keys them by order@updatedAt
    drain(app)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Purchase)) == len(members_orders)


def test_subscription_check_when_the_shop_has_api_made_subscriptions(committed, remote):
    shop_state, shop = remote
    client = AdminClient(shop, session=committed.session)
    assert check_subscriptions(client, undelivered=0) == []  # only app-scoped (toml) ones: none listed
    for topic in subscribed_topics():
        if topic != "refunds/create":
            shop_state.add_webhook_subscription(topic_enum(topic), "https://tsunagu.test/webhooks")
    assert check_subscriptions(client, undelivered=0) == ["refunds/create"]
    assert check_subscriptions(client, undelivered=2) == ["orders/create", "orders/updated", "refunds/create"]


def test_flask_reconcile_runs_once_per_shop(app, committed, remote):
    shop_state, shop = remote
    newest = max(order_from_rest(o, SHOP).source_updated_at for o in shop_state.orders.values())
    committed.session.add(ShopSyncStatus(shop_id=shop.id, orders_watermark=newest, throttled_count=0))
    committed.session.commit()
    output = app.test_cli_runner().invoke(args=["reconcile", "--shop", SHOP])
    assert output.exit_code == 0, output.output
    seen = sum(
        1
        for o in shop_state.orders.values()
        if order_from_rest(o, SHOP).source_updated_at >= newest - OVERLAP
    )
    assert f"{SHOP}: {seen} orders seen, {seen} new" in output.output


def test_the_worker_hook_reconciles_a_shop_only_once_its_configured_interval_passed(app, committed, remote):
    import dataclasses

    from app.models.types import utcnow
    from app.sync.reconcile import reconcile_due_shops

    _, shop = remote
    ran_at = utcnow() - timedelta(minutes=5)
    committed.session.add(ShopSyncStatus(shop_id=shop.id, last_reconciled_at=ran_at, throttled_count=0))
    committed.session.commit()
    settings = app.config["SETTINGS"]

    def last_run():
        committed.session.expire_all()
        return committed.session.get(ShopSyncStatus, shop.id).last_reconciled_at

    try:
        app.config["SETTINGS"] = dataclasses.replace(settings, reconcile_interval_seconds=600)
        reconcile_due_shops()
        assert last_run() == ran_at  # five minutes ago is within ten
        app.config["SETTINGS"] = dataclasses.replace(settings, reconcile_interval_seconds=60)
        reconcile_due_shops()
        assert last_run() > ran_at
    finally:
        app.config["SETTINGS"] = settings
