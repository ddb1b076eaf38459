"""Shopify customer events: create/update link identifiers, delete forgets the Shopify id."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.domain.events import CustomerEvent, CustomerMergeEvent, ExternalMemberEvent
from app.models.shop import Shop


def apply_customer(session: Session, shop: Shop, event: CustomerEvent) -> None:
    """Create or update the member of a Shopify customer (hashed phone/email only)."""
    raise NotImplementedError("issue 5: in progress")


def apply_merge(session: Session, shop: Shop, event: CustomerMergeEvent) -> None:
    """Shopify `customers/merge`: fold the merged customers' members into the survivor and recompute."""
    raise NotImplementedError("issue 5: in progress")


def apply_external_member(session: Session, shop: Shop, event: ExternalMemberEvent) -> None:
    """A Smaregi member: linked by member number, then phone, then email (ambiguous -> review)."""
    raise NotImplementedError("issue 5: in progress")
