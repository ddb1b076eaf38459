"""Point rules: what an order earns, when lots mature and expire, and which lots a debit draws from.

Accounts (double entry; every ledger transaction's postings sum to zero):
  member side: `pending` (inside the return window), `available` (spendable), `held` (reserved for a reward
  code until it is used or released);
  shop side: `issued` (every point ever granted comes from here, so it runs negative), `redeemed`, `expired`,
  `writeoff` (refund shortfalls the shop absorbs), `adjustment` (staff corrections), `redacted` (balances of
  customers whose data was erased).
Lots: every credit lands in a lot (one per order, or per staff credit) so that spending and expiry can go
oldest first; the lots of a member always add up to its pending and available balances (less any debt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from app.domain.settings import PointRules

MEMBER_ACCOUNTS = ("pending", "available", "held")
SHOP_ACCOUNTS = ("issued", "redeemed", "expired", "writeoff", "adjustment", "redacted")
ACCOUNTS = MEMBER_ACCOUNTS + SHOP_ACCOUNTS


def order_points(net: Decimal, rate: Decimal, multiplier: Decimal) -> int:
    """Points an order is worth: net x rate x multiplier, rounded down once per order."""
    if net <= 0:
        return 0
    return int((net * rate * multiplier).to_integral_value(ROUND_FLOOR))


def matures_at(processed_at: datetime, rules: PointRules) -> datetime:
    """When an order's points leave pending: the end of the return window."""
    return processed_at + timedelta(days=rules.pending_days)


@dataclass(frozen=True, slots=True)
class LotView:
    """What allocation needs to know about a lot."""

    id: int
    earned_at: datetime
    pending: int
    remaining: int
    expired: bool = False


def draw_oldest_first(
    lots: Sequence[LotView], amount: int, field: str = "remaining"
) -> list[tuple[int, int]]:
    """(lot id, points) to take `amount` from `field` of the lots, oldest first; may cover less than asked."""
    taken: list[tuple[int, int]] = []
    left = amount
    for lot in sorted(lots, key=lambda lot: (lot.earned_at, lot.id)):
        if left <= 0:
            break
        have = getattr(lot, field)
        if lot.expired or have <= 0:
            continue
        take = min(have, left)
        taken.append((lot.id, take))
        left -= take
    return taken


def expiry_due(
    lots: Sequence[LotView], rules: PointRules, now: datetime, last_earning_at: datetime | None
) -> list[int]:
    """Ids of the lots that expire at `now` (each lot expires at most once: expired lots are skipped).

    last_activity: when the member made no earning purchase for `expiry_days`, every open lot expires at
    once (so lots only matter for which points a spend uses); per_lot: each lot `expiry_days` after earning.
    """
    horizon = timedelta(days=rules.expiry_days)
    open_lots = [lot for lot in lots if not lot.expired and lot.pending == 0]
    if rules.expiry_mode == "per_lot":
        return [lot.id for lot in open_lots if now >= lot.earned_at + horizon]
    if last_earning_at is None:
        # Only staff credits so far: they age from when they were granted.
        return [lot.id for lot in open_lots if now >= lot.earned_at + horizon]
    if now >= last_earning_at + horizon:
        return [lot.id for lot in open_lots]
    return []
