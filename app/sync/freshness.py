"""Freshness: how long from Shopify's webhook reaching us to the metafield confirmed in Shopify.

The clock starts when the change's webhook was received. The worker says when that was by wrapping its
handler in `receiving(inbox_row.received_at)`; every member the handler changes then remembers the earliest
receipt not yet confirmed (`MemberSyncState.pending_since`). Changes made outside a webhook (staff, jobs)
start the clock when the syncer first sees them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from sqlalchemy import event, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models.member import Member
from app.models.sync_state import FreshnessSample, MemberSyncState
from app.models.types import utcnow

RECEIVED_AT: ContextVar[datetime | None] = ContextVar("tsunagu_received_at", default=None)
MAX_SAMPLES = 20_000  # percentiles over the newest samples only: bounded work for the dashboard
MAX_LATENCY_MS = 2**31 - 1  # about 24.8 days: the column is a 32-bit integer


@contextmanager
def receiving(received_at: datetime | None) -> Iterator[None]:
    """Mark the member changes made inside as caused by a webhook received at `received_at`."""
    token = RECEIVED_AT.set(received_at)
    try:
        yield
    finally:
        RECEIVED_AT.reset(token)


@event.listens_for(Member, "after_insert")
def _note_receipt_new(mapper, connection, target: Member) -> None:
    """A member created by a webhook: its first sync is measured from that webhook."""
    _note(connection, target)


@event.listens_for(Member, "after_update")
def _note_receipt_changed(mapper, connection, target: Member) -> None:
    """A member changed by a webhook (its sync_version moved)."""
    if inspect(target).attrs.sync_version.history.has_changes():
        _note(connection, target)


def _note(connection, target: Member) -> None:
    """Remember the earliest unconfirmed receipt (upsert; never moves the clock start later)."""
    at = RECEIVED_AT.get()
    if at is None or target.id is None:
        return
    table = MemberSyncState.__table__
    row = {"member_id": target.id, "shop_id": target.shop_id, "pending_since": at, "confirmed_version": 0}
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(table).values(**row).on_conflict_do_nothing())
    connection.execute(
        update(table)
        .where(table.c.member_id == target.id)
        .where((table.c.pending_since.is_(None)) | (table.c.pending_since > at))
        .values(pending_since=at)
    )


def record(session: Session, shop_id: int, received_at: datetime, confirmed_at: datetime) -> FreshnessSample:
    """Store one webhook-received -> metafield-confirmed sample."""
    # A member left unsynced for weeks (e.g. a shop without a token) is clamped, not an integer overflow.
    latency = min(max(0, int((confirmed_at - received_at) / timedelta(milliseconds=1))), MAX_LATENCY_MS)
    sample = FreshnessSample(
        shop_id=shop_id, received_at=received_at, confirmed_at=confirmed_at, latency_ms=latency
    )
    session.add(sample)
    return sample


def percentile(sorted_values: list[int], fraction: float) -> int | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(session: Session, shop_id: int, since: datetime | None = None) -> dict[str, int | None]:
    """p50/p95/max latency in ms and the sample count, over samples confirmed since `since` (24 h default)."""
    since = since or (utcnow() - timedelta(hours=24))
    values = sorted(
        session.scalars(
            select(FreshnessSample.latency_ms)
            .where(FreshnessSample.shop_id == shop_id, FreshnessSample.confirmed_at >= since)
            .order_by(FreshnessSample.confirmed_at.desc())
            .limit(MAX_SAMPLES)
        )
    )
    return {
        "count": len(values),
        "p50_ms": percentile(values, 0.50),
        "p95_ms": percentile(values, 0.95),
        "max_ms": values[-1] if values else None,
    }
