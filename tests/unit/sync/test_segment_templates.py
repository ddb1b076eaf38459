"""Segment definitions render to Shopify's query language and evaluate the same way on the app's values."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.settings import RankRules
from app.sync.segment_templates import (
    Condition,
    SegmentDefinition,
    SegmentDefinitionError,
    filter_names_from,
    matches,
    render,
    standard_definitions,
)

NS = "app--key"
NAMES = {
    k: f"metafields.{NS}.{k}"
    for k in (
        "rank",
        "last_purchase_at",
        "points_expire_at",
        "line_linked",
        "store_purchase_count",
        "channel_mix",
    )
}
TODAY = date(2026, 11, 23)


def by_handle() -> dict[str, SegmentDefinition]:
    return {d.handle: d for d in standard_definitions(RankRules())}


def test_standard_set_covers_every_rank_and_up_and_the_behaviour_segments():
    assert sorted(by_handle()) == sorted(
        [
            "rank-silver-up", "rank-gold-up", "rank-platinum-up", "omni", "store-only", "online-only",
            "dormant-90d", "points-expiring-30d", "store-regulars-no-line",
        ]
    )  # fmt: skip


def test_rendering_uses_the_filter_names_shopify_listed():
    d = by_handle()
    assert (
        render(d["rank-gold-up"], NAMES)
        == f"metafields.{NS}.rank = 'gold' OR metafields.{NS}.rank = 'platinum'"
    )
    assert (
        render(d["points-expiring-30d"], NAMES) == f"metafields.{NS}.points_expire_at BETWEEN today AND +30d"
    )
    with pytest.raises(SegmentDefinitionError):
        render(d["omni"], {})


def test_evaluation_matches_shopify_semantics():
    d = by_handle()
    assert matches(d["dormant-90d"], {"last_purchase_at": "2026-07-01"}, TODAY)
    assert not matches(d["dormant-90d"], {"last_purchase_at": "2026-10-01"}, TODAY)
    assert not matches(d["dormant-90d"], {}, TODAY)  # never bought: not dormant, not anything
    assert matches(d["points-expiring-30d"], {"points_expire_at": "2026-12-20"}, TODAY)
    assert not matches(d["points-expiring-30d"], {"points_expire_at": "2027-01-20"}, TODAY)
    regular = {"store_purchase_count": "3", "line_linked": "false"}
    assert matches(d["store-regulars-no-line"], regular, TODAY)
    assert not matches(d["store-regulars-no-line"], {**regular, "line_linked": "true"}, TODAY)


def test_quotes_in_text_values_are_escaped():
    d = SegmentDefinition("x", "x", ((Condition("channel_mix", "=", "it's"),),))
    assert render(d, NAMES).endswith("= 'it\\'s'")


def test_bad_definitions_are_refused():
    for cond in (
        Condition("nope", "=", 1),
        Condition("rank", ">", "gold"),
        Condition("spend_12m", "=", "abc"),
    ):
        with pytest.raises(SegmentDefinitionError):
            SegmentDefinition.from_json("x", "x", {"groups": [[cond.to_json()]]})


def test_only_our_namespace_counts():
    nodes = [
        {"queryName": f"metafields.{NS}.rank"},
        {"queryName": "metafields.app--other.rank"},
        {"queryName": "amount_spent"},
    ]
    assert filter_names_from(nodes, NS) == {"rank": f"metafields.{NS}.rank"}


def test_standard_segment_names_follow_the_shops_language():
    ja = {d.handle: d.name for d in standard_definitions(RankRules(), "ja")}
    en = {d.handle: d.name for d in standard_definitions(RankRules(), "en")}
    assert ja["rank-gold-up"] == "Tsunagu: ゴールド以上" and en["rank-gold-up"] == "Tsunagu: Gold and up"
    assert ja["dormant-90d"] == "Tsunagu: 90日間購入なし" and en["dormant-90d"] == "Tsunagu: Dormant 90 days"
    assert set(ja) == set(en) and all(ja[h] != en[h] for h in ja)


def test_a_merchant_named_rank_keeps_its_handle_in_the_segment_name():
    from decimal import Decimal

    from app.domain.settings import Tier

    tiers = (Tier("regular", Decimal(0), Decimal(1)), Tier("diamond", Decimal(5), Decimal(2)))
    ranks = RankRules(tiers=tiers)
    names = {d.handle: d.name for d in standard_definitions(ranks, "ja")}
    assert names["rank-diamond-up"] == "Tsunagu: Diamond以上"
