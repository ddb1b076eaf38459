"""Standard segments: built from segmentFilters, checked before creation, and counted like the app counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models.sync_state import ShopSegment
from app.sync.segment_templates import SegmentDefinitionError
from app.sync.segments import add_custom_segment, compare_counts, install_standard_segments
from app.sync.syncer import sync_shop


def sync(world):
    return sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)


def test_standard_segments_exist_with_their_queries(world):
    rows = install_standard_segments(world.session, world.shop, world.client(), world.pacer())
    assert [(r.handle, r.error) for r in rows if r.status != "created"] == []
    remote = {s["name"]: s["query"] for s in world.remote.segments()}
    ns = world.remote.app_namespace
    assert remote["Tsunagu: Gold and up"] == (
        f"metafields.{ns}.rank = 'gold' OR metafields.{ns}.rank = 'platinum'"
    )
    assert remote["Tsunagu: Store regulars not on LINE"] == (
        f"metafields.{ns}.store_purchase_count >= 3 AND metafields.{ns}.line_linked = false"
    )
    assert remote["Tsunagu: Dormant 90 days"] == f"metafields.{ns}.last_purchase_at < -90d"
    assert len(remote) == len(rows) == 9


def test_install_twice_creates_nothing_new(world):
    install_standard_segments(world.session, world.shop, world.client(), world.pacer())
    before = world.remote.segments()
    install_standard_segments(world.session, world.shop, world.client(), world.pacer())
    assert world.remote.segments() == before


def test_counts_match_the_app_after_a_workload(world):
    install_standard_segments(world.session, world.shop, world.client(), world.pacer())
    a, b, c, d = (world.customer() for _ in range(4))
    world.buy(a, "120000", pos=True)  # gold, store only
    world.buy(b, "40000")  # silver, online only
    world.buy(b, "2000", pos=True)  # -> omni
    for _ in range(3):
        world.buy(c, "1000", pos=True)  # store regular, not on LINE
    world.buy(d, "3000")
    world.clock.sleep(timedelta(days=120).total_seconds())  # a, b, c, d all dormant now
    world.buy(d, "3000")  # d is back
    sync(world)
    counts = {
        c.handle: c
        for c in compare_counts(world.session, world.shop, world.client(), world.pacer(), world.clock.utc())
    }
    assert [c for c in counts.values() if not c.agrees] == []
    assert counts["rank-gold-up"].app_count == 1
    assert counts["rank-silver-up"].app_count == 2
    assert counts["omni"].app_count == 1
    assert counts["store-regulars-no-line"].app_count == 1
    assert counts["dormant-90d"].app_count == 3
    assert counts["points-expiring-30d"].app_count == 0


def test_an_unknown_filter_is_reported_not_created(world):
    with pytest.raises(SegmentDefinitionError):
        add_custom_segment(
            world.session,
            world.shop,
            world.client(),
            world.pacer(),
            "Bad",
            [[{"key": "nope", "op": "=", "value": 1}]],
        )


def test_custom_segment_is_checked_then_created(world):
    row = add_custom_segment(
        world.session,
        world.shop,
        world.client(),
        world.pacer(),
        "Big spenders",
        [[{"key": "spend_12m", "op": ">=", "value": 50000}]],
    )
    assert row.status == "created" and row.kind == "custom"
    assert world.session.get(ShopSegment, row.id).shopify_id in {
        s["id"] for s in world.remote.segments()
    } or any(s["name"] == "Big spenders" for s in world.remote.segments())


def test_a_japanese_shops_standard_segments_are_named_in_japanese(world):
    world.shop.locale = "ja"  # the admin opened the app in Japanese (recorded on app loads)
    world.session.commit()
    rows = install_standard_segments(world.session, world.shop, world.client(), world.pacer())
    names = {s["name"] for s in world.remote.segments()}
    assert {"Tsunagu: ゴールド以上", "Tsunagu: 店舗のみ", "Tsunagu: LINE 未連携の店舗常連"} <= names
    assert not any(n.endswith(("and up", "Store only")) for n in names)
    assert {r.name for r in rows} == names
