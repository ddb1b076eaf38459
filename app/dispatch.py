"""Topic -> handler table: each handler turns a stored body into domain calls in the worker's transaction.

A handler returns DONE or IGNORED (InboxStatus); raising NormaliseError dead-letters the row at once
(retrying a malformed body cannot help), any other exception is retried with backoff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analytics.snapshot import run_scheduled_analytics
from app.campaigns.jobs import run_reward_code_jobs
from app.customers import compliance
from app.customers.events import apply_customer, apply_merge
from app.customers.retention import purge_expired
from app.dashboard.jobs import run_scheduled_reports
from app.extensions import db
from app.flow.jobs import run_flow_jobs
from app.integrations.periodic import push_tick, run_store_jobs
from app.integrations.smaregi.handlers import SMAREGI_HANDLERS
from app.jobs.inbox import refuse
from app.models.inbox import InboxEvent, InboxStatus
from app.models.shop import Shop
from app.points.history import run_rebuilds
from app.points.purchases import apply_purchase, apply_refund
from app.points.upkeep import run_daily_upkeep
from app.shopify.payloads.graphql import order_from_graphql
from app.shopify.payloads.rest import (
    NormaliseError,
    customer_from_rest,
    merge_from_rest,
    order_from_rest,
    refund_from_rest,
)
from app.shopify.payloads.retention import minimised
from app.shops.installs import mark_uninstalled, predates_install, update_scopes
from app.sync import bulk_finished as bulk
from app.sync.reconcile import reconcile_due_shops

log = logging.getLogger(__name__)
Handler = Callable[[Session, Shop, InboxEvent, dict[str, Any]], str]

# Processed even for a shop that uninstalled (shop/redact arrives 48 h after uninstall) or that we never knew.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})


def order(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """Every orders/* topic carries the full order: apply it as a snapshot (newest `updated_at` wins)."""
    apply_purchase(session, shop, order_from_rest(body, shop.domain))
    return InboxStatus.DONE


def refund(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """refunds/create: reverse points for that refund id, once."""
    apply_refund(session, shop, refund_from_rest(body, shop.domain))
    return InboxStatus.DONE


def customer_created(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    apply_customer(session, shop, customer_from_rest(body, "create", shop.domain))
    return InboxStatus.DONE


def customer_updated(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    apply_customer(session, shop, customer_from_rest(body, "update", shop.domain))
    return InboxStatus.DONE


def customer_deleted(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    apply_customer(session, shop, customer_from_rest(body, "delete", shop.domain))
    return InboxStatus.DONE


def customers_merged(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """Only a completed merge moves anything; failed or in-progress notices are kept as ignored."""
    if str(body.get("status", "")).lower() not in ("completed", "succeeded", "success"):
        return InboxStatus.IGNORED
    apply_merge(session, shop, merge_from_rest(body, shop.domain, row.triggered_at))
    return InboxStatus.DONE


def app_uninstalled(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """Tokens go at once; a late delivery from before the current install must not undo the reinstall."""
    # The body is Shopify's shop object; the header that named the shop is not covered by the HMAC.
    mismatch = compliance.body_shop_mismatch(shop, row, body, domain_key="myshopify_domain", id_key="id")
    if mismatch:
        return refuse(row, mismatch)
    if predates_install(shop, row.occurred_at):
        return refuse(row, "app/uninstalled predates the shop's current install")
    mark_uninstalled(session, shop, occurred_at=row.occurred_at)
    return InboxStatus.DONE


def scopes_updated(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """app/scopes_update: `current` lists the scopes granted now."""
    current = body.get("current")
    if not isinstance(current, list) or not all(isinstance(s, str) for s in current):
        raise NormaliseError("scopes_update.current is not a list of scopes")
    if predates_install(shop, row.occurred_at):  # the install's token exchange told us the scopes since
        return refuse(row, "app/scopes_update predates the shop's current install")
    update_scopes(session, shop, current)
    return InboxStatus.DONE


def reconciled_order(session: Session, shop: Shop, row: InboxEvent, body: dict[str, Any]) -> str:
    """An order found by reconciliation (a GraphQL Order node): the same PurchaseEvent path as webhooks."""
    apply_purchase(session, shop, order_from_graphql(body, shop.domain))
    return InboxStatus.DONE


HANDLERS: dict[str, Handler] = {
    "orders/create": order,
    "orders/updated": order,
    "orders/paid": order,
    "orders/cancelled": order,
    "orders/edited": order,
    "refunds/create": refund,
    "customers/create": customer_created,
    "customers/update": customer_updated,
    "customers/delete": customer_deleted,
    "customers/merge": customers_merged,
    "app/uninstalled": app_uninstalled,
    "app/scopes_update": scopes_updated,
    "bulk_operations/finish": bulk.bulk_operation_finished,
}

COMPLIANCE_HANDLERS: dict[str, Callable[[Session, Shop | None, InboxEvent, dict[str, Any]], str]] = {
    "customers/data_request": compliance.data_request,
    "customers/redact": compliance.customer_redact,
    "shop/redact": compliance.shop_redact,
}

# Topics a webhook may carry; anything else is recorded as ignored.
KNOWN_TOPICS = frozenset(HANDLERS) | COMPLIANCE_TOPICS
# Rows the app writes itself (never accepted from a webhook), by their inbox source.
INTERNAL_HANDLERS: dict[tuple[str, str], Handler] = {("reconcile", "orders/reconciled"): reconciled_order}

# Smaregi rows (source "smaregi", topic = the Smaregi-Event header) go to the store side.
INTERNAL_HANDLERS.update({("smaregi", topic): handler for topic, handler in SMAREGI_HANDLERS.items()})


def dispatch(session: Session, row: InboxEvent) -> str:
    """Run the row's handler; IGNORED for a shop that is gone or uninstalled (compliance topics excepted)."""
    try:
        body = json.loads(row.payload)
    except ValueError as exc:
        raise NormaliseError("stored body is not JSON") from exc
    if not isinstance(body, dict):
        raise NormaliseError("stored body is not a JSON object")
    row.last_error = None  # this attempt's refusal, if any, replaces an earlier attempt's failure
    shop = session.scalar(select(Shop).where(Shop.domain == row.shop_domain))
    if row.topic in COMPLIANCE_HANDLERS:
        return COMPLIANCE_HANDLERS[row.topic](session, shop, row, body)
    handler = (
        HANDLERS.get(row.topic) if row.source == "shopify" else INTERNAL_HANDLERS.get((row.source, row.topic))
    )
    if handler is None or shop is None or not shop.is_installed:
        outcome: str = InboxStatus.IGNORED
    else:
        outcome = handler(session, shop, row, body)
    # Handled (in this transaction): the stored body keeps only what replay and audit need.
    row.payload = minimised(row.source, row.topic, row.payload)
    return outcome


def periodic() -> None:
    """The worker's scheduled jobs, run between inbox batches; each decides per shop whether it is due.

    Each job runs on its own: one that fails is logged by exception type (a driver's message can quote row
    values), its transaction rolled back, and the jobs after it still run; it is tried again next round.
    """
    for job in SCHEDULED_JOBS:
        try:
            job()
        except Exception as exc:
            db.session.rollback()
            log.error("scheduled job %s failed: %s", job.__name__, type(exc).__name__)


def purge_personal_data() -> None:
    """Personal data past its retention: processed webhook rows, expired customer data exports."""
    purge_expired(db.session, current_app.config["SETTINGS"])


SCHEDULED_JOBS: tuple[Callable[[], object], ...] = (
    run_store_jobs,  # the store side (LINE outbox, Smaregi pull); it contains one shop's failure itself
    reconcile_due_shops,
    run_daily_upkeep,  # daily per shop: pending points mature, lots expire, rolling ranks move
    run_rebuilds,  # members re-derived after a rules change too large for one request (past purchases)
    push_tick,  # what upkeep and rebuilds just changed reaches the Smaregi register in the same round
    run_scheduled_reports,  # month-end closes and the dashboard's home summaries
    run_scheduled_analytics,  # the analytics page's figures, when the data changed or staff asked
    run_reward_code_jobs,  # campaign reward codes: created in Shopify, sent by LINE, settled when used
    run_flow_jobs,  # Shopify Flow: members' rank/points/LINE events queued, then sent as Flow triggers
    purge_personal_data,
)
