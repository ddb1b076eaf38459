"""Smaregi transactions and members -> the normalised domain events (pure: no I/O, no Flask).

Rules (Smaregi POS API, transactions): `transactionHeadDivision` 1 is a normal sale (deposits, point
adjustments and the like are not purchases); `cancelDivision` 1 marks a void; a return or a void that
points at the original receipt carries `disposeServerTransactionHeadId`; return lines have
`transactionDetailDivision` 2.
Smaregi sends ids and amounts as strings and times as ISO 8601 with an offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from app.domain.events import CustomerEventKind, CustomerRef, ExternalMemberEvent, PurchaseEvent, RefundEvent

TransactionKind = Literal["sale", "return", "cancel", "void", "other"]
NORMAL_SALE = "1"
RETURN_DETAIL = "2"
ZERO = Decimal("0")


class MappingError(ValueError):
    """A Smaregi record that cannot be understood (a bug or an API change: never silently dropped)."""


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from Smaregi's ISO 8601 text, None if absent; naive text is refused."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise MappingError("Smaregi time without an offset")
    return parsed


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation as exc:
        raise MappingError("amount is not a number") from exc


def _id(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text if text and text != "0" else None


@dataclass(frozen=True, slots=True)
class TransactionFacts:
    """What the ingest needs to know about one Smaregi transaction."""

    transaction_head_id: str
    kind: TransactionKind
    refers_to: str | None  # the original receipt of a return or a void
    customer_id: str | None
    customer_code: str | None
    store_id: str | None
    total: Decimal
    transacted_at: datetime
    updated_at: datetime
    items_count: int
    spend_points: int = 0  # `spendPoint`: the member's points used to pay at the register


def read_transaction(tx: dict[str, Any]) -> TransactionFacts:
    """Classify a transaction: sale, return (of `refers_to`), cancel (void of `refers_to`), void (itself)."""
    head_id = _id(tx.get("transactionHeadId"))
    if head_id is None:
        raise MappingError("transaction without transactionHeadId")
    # terminalTranDateTime is when the register rang the sale; transactionDateTime is when the server got it
    # (an offline register syncs hours later, and points and ranks follow the sale time).
    transacted = parse_time(tx.get("terminalTranDateTime")) or parse_time(tx.get("transactionDateTime"))
    if transacted is None:
        raise MappingError("transaction without a date")
    updated = parse_time(tx.get("updDateTime")) or parse_time(tx.get("transactionDateTime")) or transacted
    total = _money(tx.get("total"))
    refers_to = _id(tx.get("disposeServerTransactionHeadId"))
    if refers_to == head_id:
        refers_to = None
    details = tx.get("details") or []
    returning = bool(details) and all(
        str(d.get("transactionDetailDivision")) == RETURN_DETAIL for d in details
    )
    kind: TransactionKind
    if str(tx.get("transactionHeadDivision", NORMAL_SALE)) != NORMAL_SALE:
        kind = "other"
    elif str(tx.get("cancelDivision", "0")) == "1":
        kind = "cancel" if refers_to else "void"
    elif refers_to or returning or total < ZERO:
        kind = "return"
    else:
        kind = "sale"
    items = (
        sum(abs(int(_money(d.get("quantity")))) for d in details)
        if details
        else int(_money(tx.get("amount")))
    )
    return TransactionFacts(
        transaction_head_id=head_id,
        kind=kind,
        refers_to=refers_to,
        customer_id=_id(tx.get("customerId")),
        customer_code=(str(tx["customerCode"]).strip() or None) if tx.get("customerCode") else None,
        store_id=_id(tx.get("storeId")),
        total=total,
        transacted_at=transacted,
        updated_at=updated,
        items_count=items,
        spend_points=abs(int(_money(tx.get("spendPoint")))),
    )


def purchase_event(
    facts: TransactionFacts, shop_domain: str, currency: str, store_name: str | None
) -> PurchaseEvent:
    """A sale (or a sale voided in place) as a full order snapshot, versioned by updDateTime."""
    if facts.kind not in ("sale", "void"):
        raise MappingError(f"a {facts.kind} is not a purchase")
    ref = CustomerRef(external_code=facts.customer_code) if facts.customer_code else None
    return PurchaseEvent(
        source="smaregi",
        source_id=facts.transaction_head_id,
        shop_domain=shop_domain,
        customer_ref=ref,
        currency=currency,
        gross_amount=max(facts.total, ZERO),
        processed_at=facts.transacted_at,
        source_updated_at=facts.updated_at,
        items_count=facts.items_count,
        location_id=facts.store_id,
        location_name=store_name,
        cancelled=facts.kind == "void",
        cancelled_at=facts.updated_at if facts.kind == "void" else None,
    )


def refund_event(
    facts: TransactionFacts, shop_domain: str, original_total: Decimal | None = None
) -> RefundEvent:
    """A return or a void of an earlier receipt as a refund of that receipt (its own id is the refund id)."""
    if facts.kind not in ("return", "cancel") or not facts.refers_to:
        raise MappingError("only a return or a void of a known receipt is a refund")
    amount = abs(facts.total)
    if facts.kind == "cancel" and original_total is not None:
        # A void takes back the whole receipt, whatever the cancel record's own total says.
        amount = max(original_total, ZERO)
    return RefundEvent(
        source="smaregi",
        source_id=facts.transaction_head_id,
        order_source_id=facts.refers_to,
        amount=amount,
        processed_at=facts.transacted_at,
        shop_domain=shop_domain,
    )


def member_event(
    customer: dict[str, Any], shop_domain: str, kind: CustomerEventKind = "update"
) -> ExternalMemberEvent:
    """A Smaregi member as an external member event (mobile number preferred over the landline)."""
    customer_id = _id(customer.get("customerId"))
    if customer_id is None:
        raise MappingError("member without customerId")
    phone = (customer.get("mobileNumber") or customer.get("phoneNumber") or "").strip() or None
    return ExternalMemberEvent(
        source="smaregi",
        external_id=customer_id,
        external_code=(str(customer.get("customerCode") or "").strip() or None),
        kind=kind,
        email=(customer.get("mailAddress") or "").strip() or None,
        phone=phone,
        updated_at=parse_time(customer.get("updDateTime")),
        shop_domain=shop_domain,
    )
