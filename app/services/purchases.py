"""Ingest of normalised purchases and refunds: identity, history, ledger and rank in one transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.domain.events import PurchaseEvent, RefundEvent
from app.models.shop import Shop


def apply_purchase(session: Session, shop: Shop, event: PurchaseEvent) -> None:
    """Apply one order snapshot: newest state wins, only the difference in points is posted."""
    raise NotImplementedError("issue 5: in progress")


def apply_refund(session: Session, shop: Shop, event: RefundEvent) -> None:
    """Apply one refund (once per refund id); points are reversed in proportion to the refunded amount."""
    raise NotImplementedError("issue 5: in progress")
