"""Reconciliation pull: every transaction updated since the watermark, through the same ingest as webhooks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.smaregi.client import SmaregiClient
from app.integrations.smaregi.ingest import ingest_transaction
from app.integrations.smaregi.push import forget_pushed, push_due
from app.models.integrations import SmaregiConnection, SmaregiCustomer
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow

log = logging.getLogger(__name__)

FIRST_WINDOW = timedelta(days=1)  # a new connection looks back one day; older sales come from a backfill
MAX_SPAN = timedelta(days=31)  # the list endpoint's largest period
OVERLAP = timedelta(minutes=5)  # re-read the edge: updDateTime is per second and clocks drift
DRIFT_BATCH = 200  # register balances read per pass (one GET each), oldest-checked first


def reconcile_shop(
    session: Session, shop: Shop, client: SmaregiClient | None = None, now: datetime | None = None
) -> int:
    """Pull and apply what changed since the watermark, in 31-day steps; returns receipts applied.

    The watermark moves only after a step's receipts are applied, in the caller's transaction, so a crash
    repeats the step (the ingest is idempotent) rather than skipping it.
    """
    connection = session.get(SmaregiConnection, shop.id)
    if connection is None or not connection.import_sales:  # the merchant chose not to import sales
        return 0
    if client is None:
        with SmaregiClient(connection) as own:
            return reconcile_shop(session, shop, own, now)
    now = now or utcnow()
    start = (connection.reconciled_until - OVERLAP) if connection.reconciled_until else now - FIRST_WINDOW
    applied = 0
    while start < now:
        end = min(start + MAX_SPAN, now)
        for summary in client.list_transactions(start, end):
            if ingest_transaction(session, shop, client, str(summary.get("transactionHeadId"))) is not None:
                applied += 1
        connection.reconciled_until = end
        start = end
    find_drift(session, shop, client)
    push_due(session, shop, client)
    session.flush()
    return applied


def find_drift(session: Session, shop: Shop, client: SmaregiClient, limit: int = DRIFT_BATCH) -> int:
    """Read register balances back and mark every link whose register differs from what was pushed (a
    staff edit at the register, a lost write) for a fresh push; returns links found drifted.

    Links are read in the order they were last confirmed, so successive passes walk all of them.
    """
    rows = session.scalars(
        select(SmaregiCustomer)
        .where(
            SmaregiCustomer.shop_id == shop.id,
            SmaregiCustomer.deleted.is_(False),
            SmaregiCustomer.pushed_points.is_not(None),
        )
        .order_by(SmaregiCustomer.pushed_at.asc(), SmaregiCustomer.id)
        .limit(limit)
    ).all()
    drifted = 0
    for row in rows:
        record = client.get_customer(row.customer_id)
        if record is None:
            row.deleted = True
            continue
        held = str(record.get("point") or "0")
        if held != str(row.pushed_points) or (row.pushed_rank and record.get("rank") != row.pushed_rank):
            log.info("smaregi register drift for shop=%s customer=%s", shop.domain, row.customer_id)
            forget_pushed(row)
            drifted += 1
        else:
            row.pushed_at = utcnow()  # confirmed: goes to the back of the queue
    session.flush()
    return drifted


def reconcile_all(
    session: Session, stale_before: datetime | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Reconcile installed shops with a Smaregi connection (only those whose watermark is older than
    `stale_before`, when given); one shop's failure does not stop the rest."""
    results: dict[str, int] = {}
    query = (
        select(Shop)
        .join(SmaregiConnection, SmaregiConnection.shop_id == Shop.id)
        .where(Shop.status == ShopStatus.INSTALLED)
    )
    if stale_before is not None:
        query = query.where(
            SmaregiConnection.reconciled_until.is_(None) | (SmaregiConnection.reconciled_until < stale_before)
        )
    shops = session.scalars(query).all()
    for shop in shops:
        try:
            results[shop.domain] = reconcile_shop(session, shop, now=now)
            session.commit()
        except Exception as exc:
            session.rollback()
            connection = session.get(SmaregiConnection, shop.id)
            if connection is not None:
                connection.last_error = f"reconcile: {type(exc).__name__}: {str(exc)[:200]}"
                session.commit()
            log.warning("smaregi reconcile failed for shop=%s: %s", shop.domain, type(exc).__name__)
            results[shop.domain] = -1
    return results
