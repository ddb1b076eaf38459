"""Unified history: aggregates, channel mix, favourite store, and the bounded purchase_history JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.history import (
    HISTORY_LIMIT,
    PurchaseFact,
    RefundFact,
    aggregate,
    dump_json,
    purchase_history_json,
)

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
TZ = "Asia/Tokyo"


def fact(
    days_ago: float, amount: int, channel: str = "online", store: str | None = None, **kw
) -> PurchaseFact:
    when = NOW - timedelta(days=days_ago)
    return PurchaseFact(
        ref=kw.pop("ref", f"shopify:{days_ago}-{amount}-{store}"),
        processed_at=when,
        gross=Decimal(amount),
        channel=channel,
        location_key=f"shopify:{store}" if store else None,
        location_name=store,
        **kw,
    )


def test_aggregates_across_channels_net_of_refunds():
    facts = [
        fact(400, 50000, "pos", "Shibuya"),  # outside the rolling year, inside lifetime
        fact(30, 12000, "pos", "Shibuya"),
        fact(20, 25000, refunds=(RefundFact(Decimal(5000), NOW - timedelta(days=19)),)),
        fact(10, 8000, "external_pos", "Umeda"),
        fact(5, 3000, cancelled=True),
        fact(4, 2000, refunds=(RefundFact(Decimal(2000), NOW - timedelta(days=3)),)),  # fully returned
    ]
    agg = aggregate(facts, NOW)
    assert agg.lifetime_spend == Decimal(50000 + 12000 + 20000 + 8000)
    assert agg.spend_12m == Decimal(12000 + 20000 + 8000)
    assert agg.purchase_count == 4
    assert (agg.store_purchase_count, agg.online_purchase_count) == (3, 1)
    assert agg.counts_by_channel == {"online": 1, "pos": 2, "external_pos": 1, "app": 0, "other": 0}
    assert agg.first_purchase_at == NOW - timedelta(days=400)
    assert agg.last_purchase_at == NOW - timedelta(days=10)
    assert agg.last_store_visit_at == NOW - timedelta(days=10)
    assert agg.favorite_store == "Shibuya"
    assert agg.channel_mix == "omni"


def test_channel_mix_values():
    assert aggregate([], NOW).channel_mix == "none"
    assert aggregate([fact(1, 100)], NOW).channel_mix == "online_only"
    assert aggregate([fact(1, 100, "app")], NOW).channel_mix == "online_only"
    assert aggregate([fact(1, 100, "pos", "A")], NOW).channel_mix == "store_only"
    assert aggregate([fact(1, 100, "other")], NOW).channel_mix == "none"
    assert aggregate([fact(1, 100, "pos", "A"), fact(2, 100, "online")], NOW).channel_mix == "omni"


def test_favourite_store_ties_go_to_the_most_recent():
    facts = [
        fact(10, 100, "pos", "A"),
        fact(5, 100, "pos", "B"),
        fact(3, 100, "pos", "A"),
        fact(1, 100, "pos", "B"),
    ]
    assert aggregate(facts, NOW).favorite_store == "B"
    assert aggregate(facts[:3], NOW).favorite_store == "A"


def test_future_purchases_are_not_counted_yet():
    agg = aggregate([fact(-1, 100)], NOW)
    assert agg.purchase_count == 0 and agg.lifetime_spend == 0


def test_history_json_keeps_the_last_50_and_totals_of_all():
    facts = [fact(i, 1000 + i, "pos" if i % 2 else "online", "Store" if i % 2 else None) for i in range(120)]
    doc = purchase_history_json(facts, "JPY", TZ)
    assert len(doc["purchases"]) == HISTORY_LIMIT
    assert doc["count"] == 120
    assert doc["purchases"][0]["date"] == "2026-11-01"  # 12:00 in Tokyo
    assert doc["purchases"][0]["amount"] == "1000.00"
    assert doc["totals"]["pos"]["count"] == 60 and doc["totals"]["online"]["count"] == 60
    assert Decimal(doc["totals"]["pos"]["net"]) + Decimal(doc["totals"]["online"]["net"]) == sum(
        (Decimal(1000 + i) for i in range(120)), Decimal(0)
    )


def test_history_json_stays_far_below_128_kb_whatever_the_input():
    long_name = "渋谷スクランブルスクエア店" * 40  # a merchant's very long location name, multibyte
    facts = [
        fact(
            i,
            999_999_999_999,
            "external_pos",
            long_name,
            ref=f"smaregi:{'9' * 60}{i}",
            refunds=tuple(RefundFact(Decimal("0.01"), NOW) for _ in range(30)),
            items_count=10**9,
            points=10**12,
        )
        for i in range(5000)
    ]
    encoded = dump_json(purchase_history_json(facts, "JPY", TZ)).encode()
    assert len(encoded) < 32 * 1024  # the metafield limit is 128 KB; keep a wide margin
    assert json.loads(encoded)["purchases"][0]["store"] == long_name[:64]


def test_dump_json_is_deterministic():
    facts = [fact(1, 100), fact(2, 200, "pos", "A")]
    assert dump_json(purchase_history_json(facts, "JPY", TZ)) == dump_json(
        purchase_history_json(facts[::-1], "JPY", TZ)
    )
