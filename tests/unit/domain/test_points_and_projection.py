"""Point arithmetic, lot allocation and expiry, and the 16-metafield projection."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.domain.history import PurchaseFact
from app.domain.points import LotView, draw_oldest_first, expiry_due, matures_at, order_points
from app.domain.projection import METAFIELD_TYPES, MemberSnapshot, metafields
from app.domain.settings import PointRules

NOW = datetime(2026, 6, 1, 3, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("net", "rate", "multiplier", "points"),
    [
        (Decimal(12000), Decimal("0.01"), Decimal("1.0"), 120),
        (Decimal(25000), Decimal("0.01"), Decimal("1.2"), 300),
        (Decimal(199), Decimal("0.01"), Decimal("1.0"), 1),  # rounded down once per order
        (Decimal(99), Decimal("0.01"), Decimal("2.0"), 1),
        (Decimal("1234.56"), Decimal("0.01"), Decimal("1.5"), 18),
        (Decimal(0), Decimal("0.01"), Decimal("2.0"), 0),
        (Decimal(-5), Decimal("0.01"), Decimal("1.0"), 0),
    ],
)
def test_order_points_floor_of_net_rate_multiplier(net, rate, multiplier, points):
    assert order_points(net, rate, multiplier) == points


def lot(i: int, days_ago: int, pending: int = 0, remaining: int = 0, expired: bool = False) -> LotView:
    return LotView(i, NOW - timedelta(days=days_ago), pending, remaining, expired)


def test_draw_takes_oldest_first_and_skips_expired_and_empty():
    lots = [
        lot(3, 1, remaining=50),
        lot(1, 30, remaining=10),
        lot(2, 20, remaining=0),
        lot(4, 40, remaining=99, expired=True),
    ]
    assert draw_oldest_first(lots, 30) == [(1, 10), (3, 20)]
    assert draw_oldest_first(lots, 500) == [(1, 10), (3, 50)]  # may cover less than asked
    assert draw_oldest_first(lots, 5, "pending") == []


def test_last_activity_expiry_takes_every_open_lot_at_once():
    rules = PointRules()
    lots = [lot(1, 500, remaining=10), lot(2, 370, remaining=5), lot(3, 400, remaining=3, expired=True)]
    last_earn = NOW - timedelta(days=366)
    assert expiry_due(lots, rules, NOW, last_earn) == [1, 2]
    assert expiry_due(lots, rules, NOW, NOW - timedelta(days=364)) == []  # a recent purchase keeps them all


def test_per_lot_expiry_ages_each_lot_and_pending_lots_never_expire():
    rules = PointRules(expiry_mode="per_lot")
    lots = [lot(1, 366, remaining=10), lot(2, 100, remaining=5), lot(3, 400, pending=7)]
    assert expiry_due(lots, rules, NOW, NOW) == [1]


def test_pending_window():
    assert matures_at(NOW, PointRules()) == NOW + timedelta(days=14)


def toml_metafields() -> dict[str, str]:
    config = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    return {key: spec["type"] for key, spec in config["customer"]["metafields"]["app"].items()}


def test_projection_covers_the_declared_metafields_with_their_types():
    declared = toml_metafields()
    assert {key: declared.get(key) for key in METAFIELD_TYPES} == METAFIELD_TYPES
    assert len(METAFIELD_TYPES) == 16
    # The one declared key left out needs the ledger's lots: the sync projection adds it.
    assert set(declared) - set(METAFIELD_TYPES) == {"points_expire_at"}


def test_projection_values_are_metafield_strings():
    facts = [
        PurchaseFact("shopify:1", NOW - timedelta(days=3), Decimal(12000), "pos", "shopify:7", "Shibuya", 2),
        PurchaseFact("shopify:2", NOW - timedelta(days=1), Decimal("25000.5"), "online", items_count=1),
    ]
    snapshot = MemberSnapshot("123456789012", "silver", 40, 320, True, facts, "JPY", "Asia/Tokyo")
    values = {k: v.value for k, v in metafields(snapshot, NOW).items()}
    assert values["member_number"] == "123456789012"
    assert values["points_balance"] == "40" and values["points_pending"] == "320"
    assert values["spend_12m"] == "37000.50" and values["lifetime_spend"] == "37000.50"
    assert values["purchase_count"] == "2"
    assert (values["store_purchase_count"], values["online_purchase_count"]) == ("1", "1")
    assert values["first_purchase_at"] == "2026-05-29" and values["last_purchase_at"] == "2026-05-31"
    assert values["last_store_visit_at"] == "2026-05-29"
    assert (values["channel_mix"], values["favorite_store"], values["line_linked"]) == (
        "omni",
        "Shibuya",
        "true",
    )
    assert values["purchase_history"].startswith('{"count":2,')


def test_projection_of_a_new_member_leaves_dates_and_store_unset_and_hides_negative_balance():
    snapshot = MemberSnapshot("123456789012", "regular", -30, 0, False, [], "JPY", "Asia/Tokyo")
    values = {k: v.value for k, v in metafields(snapshot, NOW).items()}
    assert values["first_purchase_at"] is None and values["favorite_store"] is None
    assert values["channel_mix"] == "none" and values["points_balance"] == "0"
