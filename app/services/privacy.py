"""Compliance: export everything held about a customer, or redact it for good."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models.shop import Shop


def redact_customer(session: Session, shop: Shop, shopify_customer_id: str) -> None:
    """Delete the customer's personal data and history; keep anonymised ledger totals and a tombstone."""
    raise NotImplementedError("issue 5: in progress")


def export_customer(session: Session, shop: Shop, shopify_customer_id: str) -> dict[str, Any]:
    """Everything the app holds about one customer, as a JSON-able dict."""
    raise NotImplementedError("issue 5: in progress")
