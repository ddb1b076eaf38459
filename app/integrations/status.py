"""Store-side health for the dashboard: what is waiting, failing or unmapped, per shop (read-only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models.integrations import (
    LineConnection,
    LineMessage,
    MessageStatus,
    SmaregiConnection,
    SmaregiCustomer,
    SmaregiStore,
    SmaregiTransaction,
    StoreStatus,
)
from app.models.shop import Shop


@dataclass(frozen=True)
class StoreHealth:
    """Counts staff act on; lists are capped so the page stays light."""

    smaregi_connected: bool
    line_connected: bool
    smaregi_last_error: str | None = None
    transactions_by_status: dict[str, int] = field(default_factory=dict)
    unmapped_stores: list[str] = field(default_factory=list)
    push_failures: int = 0
    line_by_status: dict[str, int] = field(default_factory=dict)
    line_failures: list[tuple[int, str | None]] = field(default_factory=list)  # (message id, reason)


def store_health(session: Session, shop: Shop, limit: int = 20) -> StoreHealth:
    """The store side of one shop at a glance (every query scoped by the shop)."""
    smaregi = session.get(SmaregiConnection, shop.id)
    line = session.get(LineConnection, shop.id)
    tx_counts = dict(
        session.execute(
            select(SmaregiTransaction.status, func.count())
            .where(SmaregiTransaction.shop_id == shop.id)
            .group_by(SmaregiTransaction.status)
        ).all()
    )
    unmapped = session.scalars(
        select(SmaregiStore.store_id)
        .where(SmaregiStore.shop_id == shop.id, SmaregiStore.status == StoreStatus.UNMAPPED)
        .order_by(SmaregiStore.store_id)
        .limit(limit)
    ).all()
    push_failures = session.scalar(
        select(func.count()).where(
            SmaregiCustomer.shop_id == shop.id, SmaregiCustomer.push_error.is_not(None)
        )
    )
    line_counts = dict(
        session.execute(
            select(LineMessage.status, func.count())
            .where(LineMessage.shop_id == shop.id)
            .group_by(LineMessage.status)
        ).all()
    )
    failures = session.execute(
        select(LineMessage.id, LineMessage.last_error)
        .where(
            LineMessage.shop_id == shop.id,
            (LineMessage.status == MessageStatus.FAILED)
            | ((LineMessage.status == MessageStatus.SCHEDULED) & LineMessage.last_error.is_not(None)),
        )
        .order_by(LineMessage.id.desc())
        .limit(limit)
    ).all()
    return StoreHealth(
        smaregi_connected=smaregi is not None,
        line_connected=line is not None,
        smaregi_last_error=smaregi.last_error if smaregi else None,
        transactions_by_status={str(k): int(v) for k, v in tx_counts.items()},
        unmapped_stores=list(unmapped),
        push_failures=int(push_failures or 0),
        line_by_status={str(k): int(v) for k, v in line_counts.items()},
        line_failures=[(int(i), e) for i, e in failures],
    )
