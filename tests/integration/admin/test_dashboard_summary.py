"""Home KPIs: the materialised summary and the live member counts agree with hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.dashboard import jobs as dashboard_jobs
from app.dashboard import summary as dashboard
from app.models.dashboard import DashboardSummary
from tests.integration.admin.factories import member, purchase, refund

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def test_summary_splits_spend_by_month_channel_and_member_mix(session, shop):
    omni = member(session, shop, rank="silver", points_available=300, points_pending=20)
    store_only = member(session, shop, points_available=50)
    online_only = member(session, shop)
    member(session, shop)  # never bought anything
    p = purchase(session, shop, omni, "25000", NOW - timedelta(days=3), "online")
    refund(session, shop, p, "5000", NOW - timedelta(days=1))
    purchase(session, shop, omni, "12000", NOW - timedelta(days=40), "pos")
    purchase(session, shop, store_only, "8000", NOW - timedelta(days=2), "external_pos")
    purchase(session, shop, online_only, "3000", NOW - timedelta(days=400), "online")  # older than 12 months
    purchase(session, shop, online_only, "9999", NOW - timedelta(days=5), "online", cancelled=True)

    dashboard.refresh_summary(session, shop, NOW)
    view = dashboard.home(session, shop, NOW)

    assert view.members == 4
    assert view.mix_counts == {"omni": 1, "store_only": 1, "online_only": 1, "none": 1}
    assert view.omni_share == 1 / 3
    assert view.points_outstanding == 370
    assert view.months[-1] == "2026-11" and view.months[0] == "2025-12" and len(view.months) == 12
    assert view.spend_by_channel["online"][-1] == Decimal("20000")  # 25,000 less the 5,000 refund
    assert view.spend_by_channel["store"][-1] == Decimal("8000")
    assert view.spend_by_channel["store"][-2] == Decimal("12000")  # 40 days ago: October
    assert sum(view.spend_by_channel["online"]) == Decimal("20000")  # cancelled and old ones left out
    assert view.spend_by_mix["omni"] == Decimal("32000.00")
    assert view.spend_by_mix["online_only"] == Decimal("0.00")
    ranks = {r.handle: r for r in view.ranks}
    assert [r.handle for r in view.ranks][:4] == ["regular", "silver", "gold", "platinum"]
    assert ranks["silver"].members == 1 and ranks["silver"].ltv == Decimal("32000")
    # regular: store_only 8,000 + online_only 3,000 + nothing, over three members
    assert ranks["regular"].members == 3 and ranks["regular"].ltv == Decimal("3667")
    assert ranks["gold"].members == 0


def test_month_buckets_follow_the_shop_time_zone(session, shop):
    who = member(session, shop)
    # 2026-10-31 16:00 UTC is already 1 November in Tokyo.
    purchase(session, shop, who, "1000", datetime(2026, 10, 31, 16, 0, tzinfo=UTC), "online")
    dashboard.refresh_summary(session, shop, NOW)
    view = dashboard.home(session, shop, NOW)
    assert view.spend_by_channel["online"][-1] == Decimal("1000")
    assert view.spend_by_channel["online"][-2] == Decimal("0")


def test_home_reads_the_stored_summary_until_the_worker_refreshes_it(session, shop):
    who = member(session, shop)
    assert dashboard.home(session, shop, NOW).summary_at is None  # a page never computes it
    assert dashboard_jobs.refresh_stale_summaries(session, NOW) == 1  # missing: computed
    assert dashboard_jobs.refresh_stale_summaries(session, NOW + timedelta(minutes=1)) == 0  # unchanged
    purchase(session, shop, who, "4000", NOW - timedelta(days=1), "pos")
    assert dashboard.home(session, shop, NOW).spend_by_channel["store"][-1] == 0

    # The new purchase moved the watermark: the next worker round recomputes without waiting 10 minutes.
    assert dashboard_jobs.refresh_stale_summaries(session, NOW + timedelta(minutes=1)) == 1
    assert dashboard.home(session, shop, NOW).spend_by_channel["store"][-1] == Decimal("4000")
    assert dashboard_jobs.refresh_stale_summaries(session, NOW + timedelta(minutes=2)) == 0
    assert dashboard_jobs.refresh_stale_summaries(session, NOW + timedelta(minutes=12)) == 1  # too old
    assert session.get(DashboardSummary, shop.id).duration_ms >= 0


def test_another_shops_purchases_never_count(session, shop):
    from app.models.shop import Shop

    other = Shop(domain="other-shop.myshopify.com", name="Other")
    session.add(other)
    session.flush()
    mine = member(session, shop)
    theirs = member(session, other)
    purchase(session, shop, mine, "1000", NOW - timedelta(days=1))
    purchase(session, other, theirs, "7777", NOW - timedelta(days=1))
    dashboard.refresh_summary(session, shop, NOW)
    view = dashboard.home(session, shop, NOW)
    assert view.members == 1
    assert sum(view.spend_by_channel["online"]) == Decimal("1000")
