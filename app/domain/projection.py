"""The member as Shopify customer metafields: the 16 `$app` keys of shopify.app.toml, values as strings.

The syncer diffs this against what Shopify holds and sends `metafieldsSet` for what changed; a value
of None means "the metafield should not exist" (e.g. no purchase yet -> no first_purchase_at).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.domain.history import PurchaseFact, aggregate, dump_json, local_date, purchase_history_json

METAFIELD_TYPES: dict[str, str] = {
    "member_number": "single_line_text_field",
    "rank": "single_line_text_field",
    "points_balance": "number_integer",
    "points_pending": "number_integer",
    "spend_12m": "number_decimal",
    "lifetime_spend": "number_decimal",
    "purchase_count": "number_integer",
    "store_purchase_count": "number_integer",
    "online_purchase_count": "number_integer",
    "first_purchase_at": "date",
    "last_purchase_at": "date",
    "last_store_visit_at": "date",
    "channel_mix": "single_line_text_field",
    "favorite_store": "single_line_text_field",
    "line_linked": "boolean",
    "purchase_history": "json",
}


@dataclass(frozen=True, slots=True)
class MetafieldValue:
    """One metafield as `metafieldsSet` takes it."""

    type: str
    value: str | None


@dataclass(frozen=True, slots=True)
class MemberSnapshot:
    """Everything the projection reads about one member."""

    member_number: str
    rank: str
    points_available: int
    points_pending: int
    line_linked: bool
    facts: Sequence[PurchaseFact]
    currency: str
    timezone: str


def decimal_string(amount: Decimal) -> str:
    """A number_decimal value: plain notation, two decimals ("32000.00"), never an exponent."""
    return f"{amount.quantize(Decimal('0.01')):f}"


def _date(at: datetime | None, tz: str) -> str | None:
    day = local_date(at, tz)
    return day.isoformat() if day else None


def metafields(member: MemberSnapshot, now: datetime) -> dict[str, MetafieldValue]:
    """The member's 16 metafields at `now` (key -> type and string value)."""
    agg = aggregate(member.facts, now)
    tz = member.timezone
    values: dict[str, str | None] = {
        "member_number": member.member_number,
        "rank": member.rank,
        # A negative available balance (refund after spending) shows as 0 to shoppers and segments.
        "points_balance": str(max(member.points_available, 0)),
        "points_pending": str(member.points_pending),
        "spend_12m": decimal_string(agg.spend_12m),
        "lifetime_spend": decimal_string(agg.lifetime_spend),
        "purchase_count": str(agg.purchase_count),
        "store_purchase_count": str(agg.store_purchase_count),
        "online_purchase_count": str(agg.online_purchase_count),
        "first_purchase_at": _date(agg.first_purchase_at, tz),
        "last_purchase_at": _date(agg.last_purchase_at, tz),
        "last_store_visit_at": _date(agg.last_store_visit_at, tz),
        "channel_mix": agg.channel_mix,
        "favorite_store": agg.favorite_store,
        "line_linked": "true" if member.line_linked else "false",
        "purchase_history": dump_json(purchase_history_json(member.facts, member.currency, tz)),
    }
    return {key: MetafieldValue(METAFIELD_TYPES[key], values[key]) for key in METAFIELD_TYPES}
