"""Unified purchase history: per-purchase facts, aggregates, and the bounded `purchase_history` JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from app.domain.channels import CHANNELS, ONLINE_CHANNELS, STORE_CHANNELS

ZERO = Decimal("0")
ROLLING_DAYS = 365
HISTORY_LIMIT = 50  # purchases kept in the metafield JSON (DESIGN.md)
STORE_NAME_LIMIT = 64  # characters; keeps the JSON bounded whatever the merchant names a location

ChannelMix = Literal["online_only", "store_only", "omni", "none"]


@dataclass(frozen=True, slots=True)
class RefundFact:
    """A refund of a purchase: how much and when."""

    amount: Decimal
    processed_at: datetime


@dataclass(frozen=True, slots=True)
class PurchaseFact:
    """One purchase as history sees it (the newest snapshot plus every refund known)."""

    ref: str  # "<source>:<source id>"
    processed_at: datetime
    gross: Decimal
    channel: str
    location_key: str | None = None
    location_name: str | None = None
    items_count: int = 0
    cancelled: bool = False
    refunds: tuple[RefundFact, ...] = ()
    points: int = 0  # points this purchase earned, net of reversals (for the history JSON)

    @property
    def refunded(self) -> Decimal:
        """Everything refunded so far."""
        return sum((r.amount for r in self.refunds), ZERO)

    @property
    def net(self) -> Decimal:
        """Net amount: gross minus refunds, never below zero; a cancelled order is worth nothing."""
        if self.cancelled:
            return ZERO
        return max(self.gross - self.refunded, ZERO)

    def net_at(self, at: datetime) -> Decimal:
        """Net amount as it stood at `at`: only refunds processed before then count."""
        if self.cancelled:
            return ZERO
        refunded = sum((r.amount for r in self.refunds if r.processed_at < at), ZERO)
        return max(self.gross - refunded, ZERO)

    @property
    def counts(self) -> bool:
        """Whether this is a purchase at all for counts and mix (not cancelled, not fully returned)."""
        return self.net > ZERO


@dataclass(frozen=True, slots=True)
class HistoryAggregates:
    """What the dashboard, the rank and the metafields need from a member's history."""

    lifetime_spend: Decimal
    spend_12m: Decimal
    purchase_count: int
    counts_by_channel: dict[str, int]
    store_purchase_count: int
    online_purchase_count: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    last_store_visit_at: datetime | None
    favorite_store: str | None
    channel_mix: ChannelMix


def rolling_spend(facts: Iterable[PurchaseFact], now: datetime, days: int = ROLLING_DAYS) -> Decimal:
    """Net spend of purchases in the `days` up to and including `now`."""
    start = now - timedelta(days=days)
    return sum((f.net for f in facts if start < f.processed_at <= now), ZERO)


def aggregate(facts: Sequence[PurchaseFact], now: datetime) -> HistoryAggregates:
    """Aggregates over every purchase up to `now` (a fully refunded or cancelled one is not counted)."""
    past = [f for f in facts if f.processed_at <= now]
    counted = sorted((f for f in past if f.counts), key=lambda f: (f.processed_at, f.ref))
    by_channel = Counter(f.channel for f in counted)
    store = [f for f in counted if f.channel in STORE_CHANNELS]
    online = [f for f in counted if f.channel in ONLINE_CHANNELS]
    if store and online:
        mix: ChannelMix = "omni"
    elif store:
        mix = "store_only"
    elif online:
        mix = "online_only"
    else:
        mix = "none"
    return HistoryAggregates(
        lifetime_spend=sum((f.net for f in past), ZERO),
        spend_12m=rolling_spend(past, now),
        purchase_count=len(counted),
        counts_by_channel={c: by_channel.get(c, 0) for c in CHANNELS},
        store_purchase_count=len(store),
        online_purchase_count=len(online),
        first_purchase_at=counted[0].processed_at if counted else None,
        last_purchase_at=counted[-1].processed_at if counted else None,
        last_store_visit_at=store[-1].processed_at if store else None,
        favorite_store=_favorite_store(store),
        channel_mix=mix,
    )


def _favorite_store(store: Sequence[PurchaseFact]) -> str | None:
    """The store with the most visits; a tie goes to the one visited last."""
    visits: dict[str, tuple[int, datetime, str]] = {}
    for f in store:
        key = f.location_key or f.location_name
        if not key:
            continue
        count, _, _ = visits.get(key, (0, f.processed_at, ""))
        visits[key] = (count + 1, f.processed_at, f.location_name or key)
    if not visits:
        return None
    count, _last, name = max(visits.values(), key=lambda v: (v[0], v[1]))
    return name


def local_date(at: datetime | None, tz: str) -> date | None:
    """The calendar date of an instant in the shop's time zone."""
    return at.astimezone(ZoneInfo(tz)).date() if at else None


def _money(amount: Decimal) -> str:
    """Amounts in JSON as exact strings with two decimals ("12000.00")."""
    return f"{amount.quantize(Decimal('0.01')):f}"


def purchase_history_json(facts: Sequence[PurchaseFact], currency: str, tz: str) -> dict[str, Any]:
    """The bounded `purchase_history` metafield: the last 50 purchases, per-channel totals of all."""
    ordered = sorted(facts, key=lambda f: (f.processed_at, f.ref), reverse=True)
    totals: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        mine = [f for f in facts if f.channel == channel]
        if mine:
            totals[channel] = {
                "count": sum(1 for f in mine if f.counts),
                "net": _money(sum((f.net for f in mine), ZERO)),
            }
    recent = [
        {
            "date": local_date(f.processed_at, tz).isoformat(),  # type: ignore[union-attr]  # facts have a time
            "channel": f.channel,
            "store": (f.location_name or "")[:STORE_NAME_LIMIT] or None,
            "amount": _money(f.gross),
            "refunded": _money(f.refunded),
            "net": _money(f.net),
            "items": f.items_count,
            "points": f.points,
            "status": "cancelled" if f.cancelled else ("refunded" if f.refunded and not f.counts else "ok"),
        }
        for f in ordered[:HISTORY_LIMIT]
    ]
    return {"v": 1, "currency": currency, "count": len(facts), "purchases": recent, "totals": totals}


def dump_json(value: Any) -> str:
    """Compact, key-sorted JSON: the same data always gives the same string, so diffs are exact."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
