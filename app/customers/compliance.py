"""The three mandatory compliance topics: export a customer's data, redact a customer, erase a shop.

Handlers run in the worker's transaction like any other; they are processed even when the shop uninstalled
(shop/redact arrives 48 h after uninstall) or is unknown to us.

The shop a delivery is filed under comes from the X-Shopify-Shop-Domain header, which the HMAC does not
cover; the body (which it does cover) names the shop too (`shop_domain`, `shop_id`:
https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance). A body naming another shop is a
signed body replayed under a forged header: refused, never acted on. shop/redact also checks the event's
time against the shop's installs (app/shops/installs.py). Customer topics act whenever they were
triggered: applying a redaction late only deletes, and an export only reads.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.customers.privacy import export_customer, redact_customer
from app.customers.store_privacy import export_store_customer, redact_store_customer
from app.extensions import db
from app.jobs.inbox import refuse
from app.models.compliance import DataExport, ExportStatus
from app.models.inbox import InboxEvent, InboxStatus
from app.models.shop import Shop
from app.models.types import rows_affected, utcnow
from app.shopify.payloads.rest import legacy_id, require_id
from app.shops.installs import shop_redact_refusal

log = logging.getLogger(__name__)


def _customer_id(body: dict[str, Any]) -> str:
    customer = body.get("customer")
    return require_id(customer.get("id") if isinstance(customer, dict) else None, "customer.id")


def _order_ids(body: dict[str, Any], key: str) -> list[str]:
    values = body.get(key)
    found = [legacy_id(v) for v in values] if isinstance(values, list) else []
    return [v for v in found if v]


def body_shop_mismatch(
    shop: Shop | None,
    row: InboxEvent,
    body: dict[str, Any],
    *,
    domain_key: str = "shop_domain",
    id_key: str = "shop_id",
    required: bool = False,
) -> str | None:
    """Why the body names another shop than the row's (verified-by-header) shop, or None if it does not.

    A missing field is tolerated unless `required`: Shopify's bodies carry it, and only a body Shopify
    signed gets this far. The numeric id is compared when we know the shop's (read after install).
    """
    named = body.get(domain_key)
    if named is None:
        return f"body has no {domain_key}" if required else None
    if not isinstance(named, str) or named.strip().lower() != row.shop_domain:
        return f"body {domain_key} is not the verified shop domain"
    known = shop.shopify_shop_id if shop is not None else None
    given = legacy_id(body.get(id_key))
    if known and given and given != known:
        return f"body {id_key} is not the shop's id"
    return None


def _refused(row: InboxEvent, reason: str, kept: dict[str, Any]) -> str:
    """Refuse the row, keeping only ids of its body (what an operator needs to judge and replay it)."""
    _minimise(row, kept)
    return refuse(row, reason)


def data_request(session: Session, shop: Shop | None, row: InboxEvent, body: dict[str, Any]) -> str:
    """customers/data_request: build the export now and keep it for the merchant (one row per request id)."""
    customer_id = _customer_id(body)
    if mismatch := body_shop_mismatch(shop, row, body):
        return _refused(row, mismatch, _shop_ids(body) | {"customer": {"id": customer_id}})
    request = body.get("data_request")
    request_id = legacy_id(request.get("id")) if isinstance(request, dict) else None
    request_id = request_id or f"delivery:{row.delivery_id}"
    data: dict[str, Any] = {
        "shop_domain": row.shop_domain,
        "shopify_customer_id": customer_id,
        "orders_requested": _order_ids(body, "orders_requested"),
        "member": export_customer(session, shop, customer_id) if shop is not None else None,
        "store_side": export_store_customer(session, shop, customer_id) if shop is not None else None,
        # What our inbox holds naming this customer (bodies are Shopify's own order data; listed, not copied).
        "webhook_deliveries": _deliveries_naming(session, row.shop_domain, customer_id, row.id),
    }
    export = session.scalar(
        select(DataExport).where(
            DataExport.shop_domain == row.shop_domain, DataExport.data_request_id == request_id
        )
    )
    if export is None:
        export = DataExport(shop_domain=row.shop_domain, data_request_id=request_id)
        session.add(export)
    export.shop_id = shop.id if shop is not None else None
    export.shopify_customer_id = customer_id
    export.data = json.loads(json.dumps(data, default=str))
    export.status = ExportStatus.READY
    export.built_at = utcnow()
    _minimise(row, _shop_ids(body) | {"customer": {"id": customer_id}, "data_request": {"id": request_id}})
    return InboxStatus.DONE


def customer_redact(session: Session, shop: Shop | None, row: InboxEvent, body: dict[str, Any]) -> str:
    """customers/redact: the member's redaction, then every stored body and export naming the customer."""
    customer_id = _customer_id(body)
    orders = _order_ids(body, "orders_to_redact")
    if mismatch := body_shop_mismatch(shop, row, body):
        return _refused(row, mismatch, _shop_ids(body) | {"customer": {"id": customer_id}})
    if shop is not None:
        redact_customer(session, shop, customer_id)
        redact_store_customer(session, shop, customer_id)  # LINE link/outbox, Smaregi ids
    naming = (InboxEvent.customer_id == customer_id) | (
        InboxEvent.topic.startswith("orders/") & InboxEvent.resource_id.in_(orders)
    )
    now = utcnow()
    base = update(InboxEvent).where(
        InboxEvent.shop_domain == row.shop_domain, InboxEvent.id != row.id, naming
    )
    # Not yet processed: would only be refused by the redaction tombstone; close them without processing.
    # A worker holding one loses its lease check and rolls back.
    session.execute(
        base.where(InboxEvent.status.in_((InboxStatus.PENDING, InboxStatus.PROCESSING)))
        .values(
            status=InboxStatus.IGNORED, last_error="customer redacted", lease_expires_at=None, locked_by=None
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(base.values(payload="{}", redacted_at=now).execution_options(synchronize_session=False))
    session.execute(
        delete(DataExport)
        .where(DataExport.shop_domain == row.shop_domain, DataExport.shopify_customer_id == customer_id)
        .execution_options(synchronize_session=False)
    )
    _minimise(row, _shop_ids(body) | {"customer": {"id": customer_id}, "orders_to_redact": orders})
    return InboxStatus.DONE


def shop_redact(session: Session, shop: Shop | None, row: InboxEvent, body: dict[str, Any]) -> str:
    """shop/redact: delete every row of the shop in every table, then the shop itself.

    Only for the verified shop, uninstalled and not reinstalled since: anything else is refused and kept.
    """
    domain = row.shop_domain
    reason = body_shop_mismatch(shop, row, body, required=True) or shop_redact_refusal(shop, row.occurred_at)
    if reason:
        return _refused(row, reason, _shop_ids(body))
    deleted = erase_shop(session, shop, domain, keep_inbox_id=row.id)
    log.info("shop/redact shop=%s rows_deleted=%d", domain, deleted)
    _minimise(row, {"shop_domain": domain, "shop_id": legacy_id(body.get("shop_id"))})
    row.shop_id = None
    return InboxStatus.DONE


def erase_shop(session: Session, shop: Shop | None, domain: str, *, keep_inbox_id: int | None) -> int:
    """Delete the shop's rows table by table, children first; tables reach the shop by shop_id,
    shop_domain, or a foreign-key chain to a table that has one (e.g. a member's identifiers)."""
    session.flush()
    filters: dict[str, ColumnElement[bool] | None] = {}
    shop_id = shop.id if shop is not None else None
    total = 0
    for table in reversed(db.metadata.sorted_tables):
        if table.name == Shop.__tablename__:
            continue
        condition = _shop_filter(table, shop_id, domain, filters)
        if condition is None:
            continue
        if table.name == InboxEvent.__tablename__ and keep_inbox_id is not None:
            condition = condition & (table.c.id != keep_inbox_id)
        total += rows_affected(session.execute(delete(table).where(condition))) or 0
    if shop is not None:
        session.execute(delete(Shop.__table__).where(Shop.__table__.c.id == shop_id))
        session.expunge(shop)
        total += 1
    return total


def _shop_filter(
    table: Table, shop_id: int | None, domain: str, memo: dict[str, ColumnElement[bool] | None]
) -> ColumnElement[bool] | None:
    """A WHERE clause selecting the shop's rows of `table`, or None when the table holds no shop data."""
    if table.name in memo:
        return memo[table.name]
    memo[table.name] = None  # cycle guard
    condition: ColumnElement[bool] | None = None
    if "shop_domain" in table.c:
        condition = table.c.shop_domain == domain
    if "shop_id" in table.c and shop_id is not None:
        by_id = table.c.shop_id == shop_id
        condition = by_id if condition is None else (condition | by_id)
    if condition is None:
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name == Shop.__tablename__:
                if shop_id is not None:
                    condition = fk.parent == shop_id
                break
            parent_filter = _shop_filter(parent, shop_id, domain, memo)
            if parent_filter is not None:
                condition = fk.parent.in_(select(fk.column).where(parent_filter))
                break
    memo[table.name] = condition
    return condition


def _deliveries_naming(session: Session, domain: str, customer_id: str, exclude: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(InboxEvent.topic, InboxEvent.resource_id, InboxEvent.received_at).where(
            InboxEvent.shop_domain == domain,
            InboxEvent.customer_id == customer_id,
            InboxEvent.id != exclude,
            InboxEvent.topic.not_in(("customers/data_request", "customers/redact", "shop/redact")),
            InboxEvent.redacted_at.is_(None),
        )
    ).all()
    return [
        {"topic": topic, "resource_id": resource, "received_at": received.isoformat()}
        for topic, resource, received in rows
    ]


def _shop_ids(body: dict[str, Any]) -> dict[str, Any]:
    """The shop the body names (kept on a minimised body: a replay checks it again)."""
    return {"shop_domain": body.get("shop_domain"), "shop_id": legacy_id(body.get("shop_id"))}


def _minimise(row: InboxEvent, kept: dict[str, Any]) -> None:
    """Keep only the ids of a compliance body (its email and phone are not needed once handled)."""
    row.payload = json.dumps(kept)
