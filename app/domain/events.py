"""Normalised events the webhook pipeline hands to the member services (one shape for Shopify and Smaregi).

Contract (the payload translators produce these, the points and customer services consume them):
- An order's points are a function of its *newest* state. Every `PurchaseEvent` is a full snapshot of the
  order, versioned by `source_updated_at` (Shopify `updated_at`; Smaregi `updDateTime`); the service keeps the
  newest version it has applied and ignores older or equal ones, so retries and out-of-order deliveries are
  no-ops. Refunds are never undone, so the refunds an order has are the union (by refund id) of every
  `RefundEvent` and every snapshot's `refunds`, whichever arrives first.
- `gross_amount` is the order's earning base *before refunds*: what the customer pays for the goods after
  discounts and order edits, without shipping (Shopify: `current_subtotal_price` plus the subtotals of the
  refunds already on the snapshot, or `subtotal_price` for an unedited order; Smaregi: `total` of a
  normal sale).
  The net amount is derived here, never sent: gross minus the known refunds, zero when cancelled.
- Amounts are `Decimal` in the shop currency; timestamps are timezone-aware.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Source = Literal["shopify", "smaregi"]
CustomerEventKind = Literal["create", "update", "delete"]

ZERO = Decimal("0")


def _require_aware(name: str, value: datetime | None) -> None:
    """Naive datetimes are a normaliser bug: refuse them at the boundary."""
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """Who bought: any identifiers the source had (all optional; a walk-in sale has no ref at all)."""

    shopify_customer_id: str | None = None
    # Smaregi customerCode, a member number typed at the till or a paper-card number.
    external_code: str | None = None
    # Only used to match a store member to a Shopify customer; stored as a keyed hash, never plain.
    email: str | None = None
    phone: str | None = None

    @property
    def is_empty(self) -> bool:
        """True when nothing identifies the buyer."""
        return not (self.shopify_customer_id or self.external_code or self.email or self.phone)


@dataclass(frozen=True, slots=True)
class RefundEvent:
    """One refund (Shopify `refunds/create` or an entry of `order.refunds`; Smaregi return transaction)."""

    source: Source
    source_id: str  # the refund id (Smaregi: the return transactionHeadId)
    order_source_id: str  # the order it refunds (Smaregi: disposeServerTransactionHeadId)
    amount: Decimal  # positive, in the same earning base as PurchaseEvent.gross_amount (goods, no shipping)
    processed_at: datetime
    shop_domain: str = ""

    def __post_init__(self) -> None:
        _require_aware("processed_at", self.processed_at)
        if self.amount < ZERO:
            raise ValueError("refund amount must be positive")


@dataclass(frozen=True, slots=True)
class PurchaseEvent:
    """A full snapshot of one order (Shopify order webhook/GraphQL/bulk row; Smaregi transaction)."""

    source: Source
    source_id: str  # Shopify order id / Smaregi transactionHeadId
    shop_domain: str
    customer_ref: CustomerRef | None
    currency: str
    gross_amount: Decimal
    processed_at: datetime  # when the sale happened (offline POS can arrive days later)
    source_updated_at: datetime  # the snapshot version: newer wins, older/equal is ignored
    items_count: int = 0
    # Channel hints (app/domain/channels.py decides online / pos / external_pos / app / other).
    source_name: str | None = None  # Shopify `source_name` ("web", "pos", an app id, ...)
    location_id: str | None = None  # Shopify POS location / Smaregi storeId
    location_name: str | None = None
    app_id: str | None = None  # Shopify `app_id` of the app that created the order
    cancelled: bool = False
    cancelled_at: datetime | None = (
        None  # when it was cancelled (None: not known; the snapshot's time is used)
    )
    test: bool = False  # Shopify test orders earn nothing
    discount_codes: tuple[str, ...] = ()
    refunds: tuple[RefundEvent, ...] = field(default=())

    def __post_init__(self) -> None:
        _require_aware("processed_at", self.processed_at)
        _require_aware("source_updated_at", self.source_updated_at)
        if self.gross_amount < ZERO:
            raise ValueError("gross_amount must not be negative")
        for refund in self.refunds:
            if refund.order_source_id != self.source_id:
                raise ValueError("a snapshot's refunds must belong to that order")

    @property
    def refunded_amount(self) -> Decimal:
        """Sum of the refunds on this snapshot."""
        return sum((r.amount for r in self.refunds), ZERO)

    @property
    def net_amount(self) -> Decimal:
        """What this snapshot alone says the order is worth: gross minus its refunds, zero if cancelled."""
        if self.cancelled:
            return ZERO
        return max(self.gross_amount - self.refunded_amount, ZERO)


@dataclass(frozen=True, slots=True)
class CustomerEvent:
    """Shopify `customers/create|update|delete` (no tags or consent since 2025-01, and we keep no names)."""

    kind: CustomerEventKind
    shopify_customer_id: str
    updated_at: datetime | None = None
    email: str | None = None
    phone: str | None = None
    shop_domain: str = ""
    # The customer metafields the body carried that could hold a birthday, as ("namespace.key", month 1-12,
    # or None when the value is not a date): only the month leaves the translator; the shop's setting picks
    # which metafield counts (app/members/birthdays.py). Empty: the body said nothing about a birthday.
    birth_months: tuple[tuple[str, int | None], ...] = ()

    def __post_init__(self) -> None:
        _require_aware("updated_at", self.updated_at)


@dataclass(frozen=True, slots=True)
class CustomerMergeEvent:
    """Shopify `customers/merge` (or staff accepting a suggestion): `merged_ids` fold into `surviving_id`."""

    surviving_id: str
    merged_ids: tuple[str, ...]
    shop_domain: str = ""
    occurred_at: datetime | None = None
    # Idempotency: one merge applied once (Shopify's job id, or the review row id).
    source_id: str = ""

    def __post_init__(self) -> None:
        _require_aware("occurred_at", self.occurred_at)
        if self.surviving_id in self.merged_ids:
            raise ValueError("the surviving customer cannot be merged into itself")


@dataclass(frozen=True, slots=True)
class ExternalMemberEvent:
    """A store member from an external POS (Smaregi `pos:customers`), linked to a Shopify customer."""

    source: Source
    external_id: str  # Smaregi customerId
    external_code: str | None  # Smaregi customerCode (often the printed card number)
    kind: CustomerEventKind = "update"
    email: str | None = None
    phone: str | None = None
    updated_at: datetime | None = None
    shop_domain: str = ""

    def __post_init__(self) -> None:
        _require_aware("updated_at", self.updated_at)
