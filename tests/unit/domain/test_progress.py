"""Progress to the next rank: each basis (spend, points, purchases), each window, the top rank."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.domain.history import PurchaseFact, RefundFact
from app.domain.progress import progress
from app.domain.settings import RankRules

NOW = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)
TZ = "Asia/Tokyo"
RATE = Decimal("0.01")
SPEND = RankRules()  # regular 0, silver 30,000, gold 100,000, platinum 300,000; rolling 365 days


def sale(amount: str, days_ago: float, *, refunded: str | None = None, n: int = 0) -> PurchaseFact:
    at = NOW - timedelta(days=days_ago)
    refunds = (
        (RefundFact(amount=Decimal(refunded), processed_at=at + timedelta(hours=1)),) if refunded else ()
    )
    return PurchaseFact(
        ref=f"shopify:{days_ago}:{n}",
        processed_at=at,
        gross=Decimal(amount),
        channel="online",
        refunds=refunds,
    )


def test_spend_counts_net_spend_in_the_last_365_days():
    facts = [sale("10000", 10), sale("5000", 100, refunded="3000"), sale("90000", 400)]
    p = progress(facts, SPEND, RATE, "regular", NOW, TZ)
    assert (p.next, p.value, p.remaining) == ("silver", Decimal("12000"), Decimal("18000"))
    assert p.share == pytest.approx(0.4)
    assert not p.top


def test_spend_in_a_yearly_window_starts_at_the_cycle_start_in_shop_time():
    rules = replace(SPEND, window="yearly", cycle_start_month=4)
    # 2026-04-01 00:00 JST is 2026-03-31 15:00 UTC: the first sale is just inside, the second just outside.
    inside = PurchaseFact("a", datetime(2026, 3, 31, 15, 0, tzinfo=UTC), Decimal("7000"), "pos")
    outside = PurchaseFact("b", datetime(2026, 3, 31, 14, 59, tzinfo=UTC), Decimal("50000"), "pos")
    p = progress([inside, outside], rules, RATE, "regular", NOW, TZ)
    assert (p.value, p.remaining) == (Decimal("7000"), Decimal("23000"))
    assert p.window_start == datetime(2026, 4, 1, tzinfo=ZoneInfo(TZ))


def test_points_basis_counts_base_points_and_needs_whole_points():
    rules = replace(
        SPEND, basis="points", tiers=tuple(replace(t, threshold=t.threshold / 100) for t in SPEND.tiers)
    )
    facts = [sale("9999", 3), sale("2050", 20)]  # 99 + 20 base points (floored per purchase)
    p = progress(facts, rules, RATE, "regular", NOW, TZ)
    assert (p.basis, p.next, p.value, p.remaining) == ("points", "silver", Decimal("119"), Decimal("181"))


def test_count_basis_counts_purchases_not_fully_returned_in_the_window():
    tiers = tuple(replace(t, threshold=Decimal(i * 5)) for i, t in enumerate(SPEND.tiers))
    rules = replace(SPEND, basis="count", tiers=tiers)
    facts = [sale("1000", d, n=d) for d in (1, 2, 30)] + [sale("1000", 5, refunded="1000"), sale("800", 366)]
    p = progress(facts, rules, RATE, "regular", NOW, TZ)
    assert (p.next, p.value, p.remaining) == ("silver", Decimal(3), Decimal(2))


def test_count_in_a_yearly_window_resets_at_the_cycle_boundary():
    tiers = tuple(replace(t, threshold=Decimal(i * 5)) for i, t in enumerate(SPEND.tiers))
    rules = replace(SPEND, basis="count", window="yearly", cycle_start_month=1, tiers=tiers)
    facts = [sale("1000", d, n=d) for d in (1, 30, 170, 200)]  # 170 and 200 days ago are last year
    p = progress(facts, rules, RATE, "regular", NOW, TZ)
    assert (p.value, p.remaining) == (Decimal(2), Decimal(3))


def test_the_next_rank_is_above_the_rank_held_even_when_held_by_a_floor():
    p = progress([sale("12000", 1)], SPEND, RATE, "gold", NOW, TZ)
    assert (p.current, p.next, p.remaining, p.share) == ("gold", "platinum", Decimal("288000"), 0.0)


def test_the_top_rank_has_nothing_left_to_reach():
    p = progress([sale("400000", 1)], SPEND, RATE, "platinum", NOW, TZ)
    assert p.top and p.next is None and p.remaining is None and p.share == 1.0


def test_an_unknown_rank_counts_as_the_lowest():
    p = progress([], SPEND, RATE, "diamond", NOW, TZ)
    assert (p.current, p.next, p.remaining) == ("regular", "silver", Decimal("30000"))
