"""Campaigns against their holdout: the effect figures on small hand-worked data and on synthetic data with a
known effect, the window rules, and the section on /analytics with its CSV.

NOW is 2026-11-20 12:00 in Tokyo. Members' first occasions are at T0 = NOW - 90 days unless a test says
otherwise, so their 60-day windows (T0, T0 + 60 days] have ended.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from app.analytics import snapshot as analytics
from app.analytics.campaigns import Z95, campaign_effect
from app.analytics.export import to_csv
from app.analytics.view import analytics_view
from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.member import Member
from app.models.purchase import Purchase
from app.models.rewards import Campaign, CampaignAward
from tests.integration.admin.factories import member, purchase, refund

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
T0 = NOW - timedelta(days=90)


def new_campaign(session, shop, name="初回来店ボーナス", **fields) -> Campaign:
    fields.setdefault("kind", "first_store_visit")
    fields.setdefault("status", "active")
    row = Campaign(
        shop_id=shop.id,
        name=name,
        starts_at=T0 - timedelta(days=30),
        bonus_points=100,
        holdout_pct=10,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def award(
    session, campaign, who, status, at=T0, occasion="first_store", tied=None, **fields
) -> CampaignAward:
    row = CampaignAward(
        shop_id=campaign.shop_id,
        campaign_id=campaign.id,
        member_id=who.id,
        occasion=occasion,
        status=status,
        points=100 if status == "granted" and campaign.reward == "points" else 0,
        occurred_at=at,
        purchase_key=f"{tied.source}:{tied.source_id}" if tied is not None else None,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def ledger(session, shop, campaign_id, who, kind, points, suffix="") -> None:
    """A campaign ledger entry (source id "<campaign id>:..."): member pending account against the shop's
    issued account."""
    txn = LedgerTransaction(
        shop_id=shop.id,
        member_id=who.id,
        source="campaign",
        source_id=f"{campaign_id}:{who.id}:first_store{suffix}",
        kind=kind,
        effective_at=T0,
    )
    txn.postings = [
        LedgerPosting(shop_id=shop.id, member_id=who.id, account="pending", points=points),
        LedgerPosting(shop_id=shop.id, member_id=None, account="issued", points=-points),
    ]
    session.add(txn)
    session.flush()


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def build_hand(session, shop) -> Campaign:
    """3 rewarded members with window sales 3,000 / 5,000 / 10,000 and 3 holdout members with 1,000 / 2,000 /
    6,000; around them, purchases that must not count."""
    campaign = new_campaign(session, shop)
    t1, t2, t3, h1, h2, h3 = (member(session, shop) for _ in range(6))
    for who, status in ((t1, "granted"), (t2, "granted"), (t3, "granted")):
        occasion = purchase(session, shop, who, "8000", T0, "pos")  # earned the bonus: left out
        award(session, campaign, who, status, tied=occasion)
    purchase(session, shop, t1, "3000", days(10))
    refunded = purchase(session, shop, t2, "6000", days(5))
    refund(session, shop, refunded, "1000", days(20))  # inside the window: 5,000
    purchase(session, shop, t3, "4000", days(1))
    purchase(session, shop, t3, "6000", days(59))
    purchase(session, shop, t3, "99999", days(61))  # after the window
    purchase(session, shop, t3, "77777", days(-5))  # before the start
    for who in (h1, h2, h3):
        occasion = purchase(session, shop, who, "8000", T0, "pos")
        award(session, campaign, who, "holdout", tied=occasion)
    purchase(session, shop, h1, "1000", days(30))
    purchase(session, shop, h2, "2000", days(3))
    purchase(session, shop, h2, "5000", days(4), cancelled=True, cancelled_at=days(4))  # counts 0
    purchase(session, shop, h3, "6000", days(45))
    for who in (t1, t2, t3):
        ledger(session, shop, campaign.id, who, "bonus", 100)
    ledger(session, shop, campaign.id, t2, "bonus_reversal", -30, "/shopify:r1")
    ledger(session, shop, campaign.id + 1000, t1, "bonus", 500)  # another campaign's id: not this one's cost
    return campaign


def test_hand_worked_effect(session, shop):
    campaign = build_hand(session, shop)
    effect = campaign_effect(session, shop, campaign, NOW)
    # Rewarded: 3,000, 5,000, 10,000 -> mean 6,000; squared deviations 9e6 + 1e6 + 16e6 = 26e6, s² = 13e6.
    # Holdout: 1,000, 2,000, 6,000 -> mean 3,000; squared deviations 4e6 + 1e6 + 9e6 = 14e6, s² = 7e6.
    assert (effect.treated.members, effect.holdout.members) == (3, 3)
    assert effect.treated.mean == pytest.approx(6000) and effect.holdout.mean == pytest.approx(3000)
    assert effect.treated.variance == pytest.approx(13e6) and effect.holdout.variance == pytest.approx(7e6)
    assert effect.difference == pytest.approx(3000)
    # se = sqrt(13e6 / 3 + 7e6 / 3) = sqrt(20e6 / 3) = 2,581.99; margin = 1.96 x 2,581.99 = 5,060.70.
    se = math.sqrt(20e6 / 3)
    assert Z95 == 1.96
    assert effect.low == pytest.approx(3000 - 1.96 * se) and effect.low == pytest.approx(-2060.70, abs=0.01)
    assert effect.high == pytest.approx(8060.70, abs=0.01)
    # Incremental: 3,000 x 3 rewarded members = 9,000, interval scaled the same.
    assert effect.incremental == pytest.approx(9000)
    assert effect.incremental_low == pytest.approx(-6182.09, abs=0.03)
    assert effect.incremental_high == pytest.approx(24182.09, abs=0.03)
    # Cost: 3 x 100 points less a 30-point reversal; 9,000 / 270 = 33.33 per point.
    assert effect.points_cost == 270 and effect.per_point == pytest.approx(9000 / 270)
    assert effect.treated.conversion == 1 and effect.holdout.conversion == 1
    assert effect.open_windows == 0 and effect.codes == 0


def synthetic(session, shop, effect_jpy: int, seed: int) -> Campaign:
    """400 rewarded and 400 holdout members, each with one purchase in the window drawn from the same
    distribution, plus `effect_jpy` for the rewarded; each member's occasion purchase (50,000 for the
    rewarded) must not count. Rows are inserted set-based."""
    rng = random.Random(seed)
    campaign = new_campaign(session, shop, name=f"synthetic {effect_jpy}")
    n = 800
    ids = session.scalars(
        insert(Member).returning(Member.id, sort_by_parameter_order=True),
        [
            {"shop_id": shop.id, "member_number": f"S{seed}-{effect_jpy}-{i}", "rank": "regular"}
            for i in range(n)
        ],
    ).all()
    purchases, awards = [], []
    for i, member_id in enumerate(ids):
        treated = i % 2 == 0
        start = T0 + timedelta(minutes=i)
        amount = max(round(rng.gauss(6000, 2500)), 0) + (effect_jpy if treated else 0)
        common = {"shop_id": shop.id, "member_id": member_id, "channel": "online", "currency": "JPY"}
        purchases.append(
            {**common, "source": "shopify", "source_id": f"occ-{campaign.id}-{i}", "processed_at": start,
             "source_updated_at": start, "gross_amount": Decimal(50000 if treated else 8000)}
        )  # fmt: skip
        at = start + timedelta(days=rng.uniform(1, 59))
        purchases.append(
            {**common, "source": "shopify", "source_id": f"win-{campaign.id}-{i}", "processed_at": at,
             "source_updated_at": at, "gross_amount": Decimal(amount)}
        )  # fmt: skip
        awards.append(
            {"shop_id": shop.id, "campaign_id": campaign.id, "member_id": member_id,
             "occasion": "first_store", "status": "granted" if treated else "holdout",
             "points": 100 if treated else 0, "occurred_at": start,
             "purchase_key": f"shopify:occ-{campaign.id}-{i}"}
        )  # fmt: skip
    session.execute(insert(Purchase), purchases)
    session.execute(insert(CampaignAward), awards)
    return campaign


def test_known_effect_is_found(session, shop):
    effect = campaign_effect(session, shop, synthetic(session, shop, 2000, 7), NOW)
    assert (effect.treated.members, effect.holdout.members) == (400, 400)
    assert effect.low < 2000 < effect.high
    assert effect.low > 0


def test_no_effect_interval_contains_zero(session, shop):
    effect = campaign_effect(session, shop, synthetic(session, shop, 0, 7), NOW)
    assert (effect.treated.members, effect.holdout.members) == (400, 400)
    assert effect.low < 0 < effect.high


def test_window_rules(session, shop):
    """The occasion's own purchase is left out even when it is recorded after the occasion; refunds inside
    the window lower sales, later ones do not; a cancelled purchase is 0 and no conversion; open windows are
    counted."""
    campaign = new_campaign(session, shop, kind="multiplier", multiplier=Decimal(2))
    a, b, c = (member(session, shop) for _ in range(3))
    # a: the order behind the occasion carries a processed_at 2 hours later than the occasion was seen.
    tied = purchase(session, shop, a, "40000", T0 + timedelta(hours=2))
    award(session, campaign, a, "granted", occasion=f"shopify:{tied.source_id}", tied=tied)
    purchase(session, shop, a, "1500", T0 + timedelta(hours=2))  # another order: counts
    later = purchase(session, shop, a, "3000", days(10))
    award(session, campaign, a, "granted", at=days(10), occasion=f"shopify:{later.source_id}", tied=later)
    refund(session, shop, later, "500", days(30))  # in the window: 2,500 left
    refund(session, shop, later, "700", days(61))  # after the window: ignored
    # b: only a cancelled purchase in the window.
    award(session, campaign, b, "granted")
    purchase(session, shop, b, "9000", days(3), cancelled=True, cancelled_at=days(4))
    # c: started 10 days ago, its window still open.
    award(session, campaign, c, "granted", at=NOW - timedelta(days=10))
    purchase(session, shop, c, "2000", NOW - timedelta(days=5))
    purchase(session, shop, c, "8888", NOW + timedelta(days=1))  # not yet happened as of NOW

    effect = campaign_effect(session, shop, campaign, NOW)
    assert effect.treated.members == 3 and effect.holdout.members == 0
    assert effect.treated.mean == pytest.approx((1500 + 2500 + 0 + 2000) / 3)
    assert effect.treated.converted == 2  # a and c; b's only purchase was cancelled
    assert effect.open_windows == 1
    assert not effect.enough and effect.difference is None and effect.low is None and effect.per_point is None


def test_code_campaigns_count_codes(session, shop):
    campaign = new_campaign(session, shop, reward="code", code_kind="amount", code_value=Decimal(500))
    for code_status in ("active", "used", "failed", "creating"):
        award(
            session,
            campaign,
            member(session, shop),
            "granted",
            code=f"C-{code_status}",
            code_status=code_status,
        )
    award(session, campaign, member(session, shop), "holdout")
    new_campaign(session, shop, name="draft", status="draft")  # not started: not measured
    effect = campaign_effect(session, shop, campaign, NOW)
    assert effect.codes == 2 and effect.points_cost == 0
    analytics.refresh(session, shop, NOW)
    assert [e.name for e in analytics_view(session, shop).campaigns] == [campaign.name]


def test_page_section_in_both_languages_and_csv(admin, installed, session):
    build_hand(session, installed)
    lone = new_campaign(session, installed, name="誕生月ボーナス", kind="birthday_month")
    award(
        session,
        lone,
        member(session, installed),
        "granted",
        at=NOW - timedelta(days=3),
        occasion="birthday:2026",
    )
    analytics.refresh(session, installed, NOW)
    session.commit()
    html = admin.html("/analytics")
    assert "Campaigns against their holdout" in html and 'data-table="campaigns"' in html
    assert "初回来店ボーナス" in html and "95% CI" in html and "Not enough members" in html
    assert 'data-open-windows="1"' in html
    assert "Mean sales per member in the 60 days after the first occasion</title>" in html  # the chart
    ja = admin.html("/analytics", locale="ja")
    assert "キャンペーンの効果（ホールドアウト比較）" in ja and "会員数が足りません" in ja
    response = admin.fetch("/analytics/campaigns.csv")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "campaign_id,name,kind,reward,treated_members,holdout_members" in body
    assert ",初回来店ボーナス,first_store_visit,points,3,3,6000,3000,3000,-2061,8061," in body
    assert ",9000,-6182,24182,270,0,33.33,0" in body


def test_csv_of_view_without_campaigns(session, shop):
    analytics.refresh(session, shop, NOW)
    view = analytics_view(session, shop)
    assert view.campaigns == []
    assert to_csv(view, "campaigns").startswith("campaign_id,name,")
