"""Channel classification and the shop rules' defaults, validation and JSON round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.channels import classify
from app.domain.events import PurchaseEvent, RefundEvent
from app.domain.settings import (
    DEFAULT_RULES,
    ChannelRules,
    PointRules,
    RankRules,
    RulesError,
    ShopRules,
    Tier,
)

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def event(
    source="shopify", source_name=None, location_id=None, location_name=None, app_id=None
) -> PurchaseEvent:
    return PurchaseEvent(
        source=source,
        source_id="1",
        shop_domain="s.myshopify.com",
        customer_ref=None,
        currency="JPY",
        gross_amount=Decimal(1000),
        processed_at=NOW,
        source_updated_at=NOW,
        source_name=source_name,
        location_id=location_id,
        location_name=location_name,
        app_id=app_id,
    )


@pytest.mark.parametrize(
    ("kwargs", "channel", "location_key", "location_name"),
    [
        ({"source_name": "web"}, "online", None, None),
        (
            {"source_name": "pos", "location_id": "77", "location_name": "Shibuya"},
            "pos",
            "shopify:77",
            "Shibuya",
        ),
        ({"source_name": "pos"}, "pos", None, None),
        (
            {"location_id": "77", "location_name": "Shibuya"},
            "pos",
            "shopify:77",
            "Shibuya",
        ),  # POS by location only
        (
            {"source": "smaregi", "location_id": "3", "location_name": "梅田店"},
            "external_pos",
            "smaregi:3",
            "梅田店",
        ),
        ({"source_name": "shopify_draft_order"}, "online", None, None),
        ({"source_name": "iphone"}, "online", None, None),
        ({"source_name": "580111"}, "app", None, None),  # another sales channel app's numeric source name
        ({"source_name": "web", "app_id": "1354745"}, "online", None, None),
        ({"source_name": "LINE", "app_id": "999"}, "app", None, None),
        ({"source_name": "something"}, "other", None, None),
        ({}, "other", None, None),
    ],
)
def test_channel_by_source_name_location_and_app(kwargs, channel, location_key, location_name):
    info = classify(event(**kwargs), ChannelRules())
    assert (info.channel, info.location_key, info.location_name) == (channel, location_key, location_name)


def test_merchant_maps_apps_and_source_names_to_channels():
    rules = ChannelRules(
        app_channels={"999": "online", "line_shop": "app"}, pos_source_names=("pos", "my_pos")
    )
    assert classify(event(source_name="LINE", app_id="999"), rules).channel == "online"
    assert classify(event(source_name="line_shop"), rules).channel == "app"
    assert classify(event(source_name="my_pos", location_id="5"), rules).location_key == "shopify:5"


def test_defaults_are_the_design_defaults():
    rules = ShopRules()
    assert rules.points == PointRules(rate=Decimal("0.01"), pending_days=14, expiry_days=365)
    assert [(t.handle, t.threshold, t.multiplier) for t in rules.ranks.tiers] == [
        ("regular", 0, Decimal("1.0")),
        ("silver", 30000, Decimal("1.2")),
        ("gold", 100000, Decimal("1.5")),
        ("platinum", 300000, Decimal("2.0")),
    ]
    assert (rules.ranks.basis, rules.ranks.window) == ("spend", "rolling_365")


def test_rules_round_trip_through_json_exactly():
    rules = ShopRules(
        points=PointRules(
            rate=Decimal("0.015"), pending_days=30, expiry_mode="per_lot", negative_policy="claw_back_pending"
        ),
        ranks=RankRules(
            basis="count",
            window="yearly",
            cycle_start_month=4,
            downgrade_timing="next_cycle",
            downgrade_step="one_tier",
            tiers=(Tier("a", Decimal(0), Decimal(1)), Tier("b", Decimal(5), Decimal("1.25"))),
        ),
        channels=ChannelRules(app_channels={"1": "app"}),
    )
    import json

    assert ShopRules.from_json(json.loads(json.dumps(rules.to_json()))) == rules
    assert ShopRules.from_json(None) == DEFAULT_RULES
    assert ShopRules.from_json({"points": {"pending_days": 7}}).points.pending_days == 7


@pytest.mark.parametrize(
    "broken",
    [
        replace(DEFAULT_RULES, points=PointRules(rate=Decimal("-0.01"))),
        replace(DEFAULT_RULES, points=PointRules(pending_days=-1)),
        replace(DEFAULT_RULES, points=PointRules(expiry_days=0)),
        replace(DEFAULT_RULES, points=PointRules(negative_policy="ignore")),  # type: ignore[arg-type]
        replace(DEFAULT_RULES, ranks=RankRules(cycle_start_month=13)),
        replace(DEFAULT_RULES, ranks=RankRules(basis="visits")),  # type: ignore[arg-type]
        replace(DEFAULT_RULES, ranks=RankRules(tiers=())),
        replace(DEFAULT_RULES, ranks=RankRules(tiers=(Tier("a", Decimal(10), Decimal(1)),))),
        replace(
            DEFAULT_RULES,
            ranks=RankRules(tiers=(Tier("a", Decimal(0), Decimal(1)), Tier("a", Decimal(5), Decimal(1)))),
        ),
        replace(
            DEFAULT_RULES,
            ranks=RankRules(tiers=(Tier("a", Decimal(0), Decimal(1)), Tier("b", Decimal(0), Decimal(1)))),
        ),
        replace(DEFAULT_RULES, ranks=RankRules(tiers=(Tier("a", Decimal(0), Decimal(0)),))),
        replace(DEFAULT_RULES, channels=ChannelRules(app_channels={"1": "tv"})),
    ],
)
def test_invalid_rules_are_refused(broken):
    with pytest.raises(RulesError):
        broken.validate()


def test_unknown_or_unreadable_stored_rules_are_refused():
    with pytest.raises(RulesError):
        ShopRules.from_json({"points": {"rate_typo": "0.02"}})
    with pytest.raises(RulesError):
        ShopRules.from_json({"ranks": {"tiers": [{"handle": "a", "threshold": "x", "multiplier": "1"}]}})


def test_events_refuse_naive_times_and_foreign_refunds():
    with pytest.raises(ValueError):
        RefundEvent("shopify", "r", "o", Decimal(1), datetime(2026, 1, 1))
    refund = RefundEvent("shopify", "r", "other-order", Decimal(1), NOW)
    with pytest.raises(ValueError):
        replace(event(), refunds=(refund,))


def test_event_net_amount_is_gross_minus_refunds_and_zero_when_cancelled():
    refund = RefundEvent("shopify", "r", "1", Decimal(300), NOW)
    snap = replace(event(), refunds=(refund,))
    assert snap.net_amount == Decimal(700)
    assert replace(snap, cancelled=True).net_amount == 0
    assert replace(snap, gross_amount=Decimal(100)).net_amount == 0
