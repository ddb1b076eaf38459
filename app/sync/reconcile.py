"""Reconciliation: poll orders updated since a watermark, so an undelivered webhook is still credited.

Each order found becomes an inbox row (source `reconcile`, delivery id `order@updatedAt`), processed by the
worker through the same PurchaseEvent path as webhooks: one transaction per row, retries, dead letters, and
a second run over the same window records nothing new. Runs every 15 minutes per shop
(`reconcile_due_shops`, called by the worker loop) or once with `flask reconcile`.
"""

from __future__ import annotations

import json
import logging
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.extensions import db
from app.jobs.inbox import Delivery, record
from app.models.inbox import InboxEvent
from app.models.shop import Shop, ShopStatus
from app.models.sync_state import ShopSyncStatus
from app.models.types import rows_affected, utcnow
from app.shopify.errors import ShopifyError, ShopifyThrottled
from app.shopify.payloads.rest import legacy_id, timestamp

log = logging.getLogger(__name__)

RECONCILE_SOURCE = "reconcile"
RECONCILED_TOPIC = "orders/reconciled"
# Shopify's search index trails writes a little, and rows dedupe by order@updatedAt: overlap costs nothing.
OVERLAP = timedelta(minutes=5)
PAGE_SIZE = 4  # with the nested refunds, keeps the requested cost of a page under Shopify's 1000
APP_TOML = Path(__file__).resolve().parents[2] / "shopify.app.toml"


@dataclass
class ReconcileResult:
    """What one run did for one shop."""

    shop_domain: str
    orders_seen: int = 0
    recorded: int = 0
    undelivered: int = 0  # orders no webhook ever told us about
    webhooks_missing: list[str] = field(default_factory=list)
    watermark: datetime | None = None


def subscribed_topics() -> list[str]:
    """The non-compliance topics shopify.app.toml subscribes to."""
    config = tomllib.loads(APP_TOML.read_text(encoding="utf-8"))
    topics: list[str] = []
    for subscription in config.get("webhooks", {}).get("subscriptions", []):
        topics.extend(subscription.get("topics", []))
    return sorted(set(topics))


def topic_enum(topic: str) -> str:
    """orders/create -> ORDERS_CREATE (the GraphQL WebhookSubscriptionTopic value)."""
    return topic.upper().replace("/", "_")


def _status(session: Session, shop: Shop) -> ShopSyncStatus:
    status = session.get(ShopSyncStatus, shop.id)
    if status is None:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(
            insert(ShopSyncStatus).values(shop_id=shop.id, throttled_count=0).on_conflict_do_nothing()
        )
        # Committed at once: the Admin client writes cost readings to this row from its own connection
        # during the run, and would wait forever on our uncommitted insert.
        session.commit()
        status = session.get(ShopSyncStatus, shop.id)
    assert status is not None
    return status


def _execute(client: Any, document: str, variables: dict[str, Any], attempts: int = 5) -> dict[str, Any]:
    """Run a document, waiting out THROTTLED answers as extensions.cost says (nothing here is urgent)."""
    for attempt in range(attempts):
        try:
            return client.execute(document, variables)
        except ShopifyThrottled as exc:
            if attempt == attempts - 1:
                raise
            time.sleep(min(max(exc.retry_after, 0.5), 30.0))
    raise AssertionError("unreachable")


def _pages(client: Any, query: str) -> Iterator[dict[str, Any]]:
    after: str | None = None
    while True:
        data = _execute(client, "orders_updated_since", {"first": PAGE_SIZE, "after": after, "query": query})
        connection = data["orders"]
        yield from connection["nodes"]
        page = connection["pageInfo"]
        if not page["hasNextPage"]:
            return
        after = page["endCursor"]


def _already_applied(session: Session, shop: Shop, order_id: str, updated_at: datetime) -> bool:
    """The purchase row already holds this snapshot (or a newer one)."""
    from app.points.purchases import find_purchase

    purchase = find_purchase(session, shop, "shopify", order_id)
    return purchase is not None and purchase.source_updated_at >= updated_at


def _ever_delivered(session: Session, shop: Shop, order_id: str) -> bool:
    return (
        session.scalar(
            select(InboxEvent.id)
            .where(
                InboxEvent.source == "shopify",
                InboxEvent.shop_domain == shop.domain,
                InboxEvent.resource_id == order_id,
                or_(InboxEvent.topic.startswith("orders/"), InboxEvent.topic == "refunds/create"),
            )
            .limit(1)
        )
        is not None
    )


def reconcile_shop(session: Session, shop: Shop, client: Any | None = None) -> ReconcileResult:
    """Pull the shop's orders updated since the watermark into the inbox, check subscriptions; commits."""
    if client is None:
        from app.shopify.client import AdminClient

        client = AdminClient(shop, session=session)
    status = _status(session, shop)
    result = ReconcileResult(shop_domain=shop.domain)
    start = status.orders_watermark or shop.installed_at
    since = start - OVERLAP
    newest = status.orders_watermark
    grace = utcnow() - OVERLAP  # younger changes may still be on their way as webhooks
    query = f"updated_at:>='{since.isoformat()}'"
    for node in _pages(client, query):
        result.orders_seen += 1
        order_id = legacy_id(node.get("id"))
        updated_at = timestamp(node.get("updatedAt"), "order.updatedAt")
        if order_id is None or updated_at is None:
            continue
        newest = updated_at if newest is None or updated_at > newest else newest
        if updated_at < grace and not _ever_delivered(session, shop, order_id):
            result.undelivered += 1
        if _already_applied(session, shop, order_id, updated_at):
            continue
        customer = node.get("customer")
        result.recorded += record(
            session,
            Delivery(
                source=RECONCILE_SOURCE,
                shop_domain=shop.domain,
                shop_id=shop.id,
                topic=RECONCILED_TOPIC,
                delivery_id=f"{order_id}@{updated_at.isoformat()}",
                payload=json.dumps(node),
                resource_id=order_id,
                customer_id=legacy_id(customer.get("id")) if isinstance(customer, dict) else None,
            ),
        )
    result.webhooks_missing = check_subscriptions(client, result.undelivered)
    status.orders_watermark = newest
    status.last_reconciled_at = utcnow()
    status.webhooks_checked_at = utcnow()
    status.webhooks_missing = result.webhooks_missing
    result.watermark = newest
    session.commit()
    log.info(
        "reconcile shop=%s seen=%d recorded=%d undelivered=%d missing=%s",
        shop.domain,
        result.orders_seen,
        result.recorded,
        result.undelivered,
        ",".join(result.webhooks_missing) or "-",
    )
    return result


def check_subscriptions(client: Any, undelivered: int) -> list[str]:
    """Topics that look unsubscribed.

    `webhookSubscriptions` lists only shop-scoped subscriptions made through the API; the app-scoped ones of
    shopify.app.toml are never listed (https://shopify.dev/docs/api/admin-graphql/latest/queries/
    webhookSubscriptions). So: when the shop has API-made subscriptions, every toml topic must be among them;
    in either case, orders that changed with no webhook at all mark orders/create and orders/updated missing.
    """
    listed: set[str] = set()  # WebhookSubscriptionTopic values, e.g. ORDERS_CREATE
    after: str | None = None
    while True:
        data = _execute(client, "webhook_subscriptions", {"first": 100, "after": after})
        connection = data["webhookSubscriptions"]
        listed |= {str(n["topic"]) for n in connection["nodes"]}
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    expected = subscribed_topics()
    missing = {t for t in expected if topic_enum(t) not in listed} if listed else set()
    if undelivered:
        missing |= {"orders/create", "orders/updated"}
    return sorted(missing)


def _claim_due(session: Session, shop: Shop, interval: timedelta) -> bool:
    """Compare-and-set on last_reconciled_at: however many workers, one reconciles a shop per interval."""
    _status(session, shop)
    now = utcnow()
    taken = rows_affected(
        session.execute(
            update(ShopSyncStatus)
            .where(
                ShopSyncStatus.shop_id == shop.id,
                or_(
                    ShopSyncStatus.last_reconciled_at.is_(None),
                    ShopSyncStatus.last_reconciled_at < now - interval,
                ),
            )
            .values(last_reconciled_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    return taken == 1


def reconcile_all(session: Session, shop_domain: str | None = None) -> list[ReconcileResult]:
    """Every installed shop (or one), now, regardless of when it last ran."""
    stmt = select(Shop).where(Shop.status == ShopStatus.INSTALLED).order_by(Shop.id)
    if shop_domain:
        stmt = stmt.where(Shop.domain == shop_domain)
    results = []
    for shop in session.scalars(stmt).all():
        try:
            results.append(reconcile_shop(session, shop))
        except ShopifyError as exc:
            session.rollback()
            log.warning("reconcile shop=%s failed: %s", shop.domain, type(exc).__name__)
    return results


def reconcile_due_shops() -> None:
    """The worker loop's hook: reconcile each installed shop whose interval has passed."""
    session = db.session
    seconds = current_app.config["SETTINGS"].reconcile_interval_seconds
    shops = session.scalars(select(Shop).where(Shop.status == ShopStatus.INSTALLED).order_by(Shop.id)).all()
    for shop in shops:
        if not _claim_due(session, shop, timedelta(seconds=seconds)):
            continue
        try:
            reconcile_shop(session, shop)
        except ShopifyError as exc:
            # The claim already moved last_reconciled_at: the next try waits one interval, not a tight loop.
            session.rollback()
            log.warning("reconcile shop=%s failed: %s", shop.domain, type(exc).__name__)
