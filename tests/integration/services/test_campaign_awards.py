"""Campaign bonuses through the ledger: once per occasion, reversed with refunds, within budget, never to the
holdout, withdrawn when late history takes the occasion away."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.domain.campaigns import in_holdout
from app.models import LedgerPosting, LedgerTransaction, Member
from app.models.rewards import Campaign, CampaignAward
from app.points.campaigns import preview
from app.points.engine import rebuild_members
from app.points.purchases import apply_purchase, apply_refund
from app.points.upkeep import refresh_shop
from tests.integration.services.factories import at, order, refund
from tests.integration.services.ledger_checks import assert_ledger_invariants


def campaign(session, shop, kind="multiplier", **kw) -> Campaign:
    values = {
        "name": kind,
        "starts_at": at(10),
        "ends_at": at(40),
        "status": "active",
        "started_at": at(0),
        "multiplier": Decimal(2) if kind == "multiplier" else None,
        "conditions": {},
    } | kw
    row = Campaign(shop_id=shop.id, kind=kind, **values)
    session.add(row)
    session.flush()
    return row


def bonus_entries(session, shop) -> list[tuple[str, str, int]]:
    """(kind, source id, points to the member) of every campaign entry, in time order."""
    rows = session.execute(
        select(LedgerTransaction.kind, LedgerTransaction.source_id, LedgerPosting.points)
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(
            LedgerTransaction.shop_id == shop.id,
            LedgerTransaction.source == "campaign",
            LedgerPosting.member_id.is_not(None),
        )
        .order_by(LedgerTransaction.effective_at, LedgerTransaction.id)
    )
    return [tuple(r) for r in rows]


def member(session, customer="1001") -> Member:
    return session.scalar(select(Member).where(Member.shopify_customer_id == customer))


def awards(session) -> list[tuple[str, str, int]]:
    rows = session.scalars(select(CampaignAward).order_by(CampaignAward.id))
    return [(a.occasion, a.status, a.points) for a in rows]


def test_a_2x_day_credits_the_bonus_once_and_a_refund_takes_it_back_in_proportion(session, shop):
    c = campaign(session, shop)
    apply_purchase(session, shop, order("o1", 20000, day=12), now=at(12))
    apply_purchase(session, shop, order("o1", 20000, day=12), now=at(13))  # a duplicate delivery
    apply_purchase(session, shop, order("o0", 20000, day=5), now=at(13))  # before the campaign
    key = f"{c.id}:{member(session).id}:shopify:o1"
    assert bonus_entries(session, shop) == [("bonus", key, 200)]
    assert member(session).points_pending == 200 + 200 + 200  # o0, o1 and o1's bonus
    apply_refund(session, shop, refund("r1", "o1", 5000, day=14), now=at(14))
    assert bonus_entries(session, shop)[-1] == ("bonus_reversal", f"{key}/r1", -50)
    apply_purchase(session, shop, order("o1", 20000, day=12, version=15, cancelled=True), now=at(15))
    assert bonus_entries(session, shop)[-1] == ("bonus_cancel", key, -150)
    assert_ledger_invariants(session, shop)
    session.refresh(c)
    assert c.granted == 200  # the budget counts what was granted


def test_bonus_points_wait_out_the_return_window_like_the_purchase(session, shop):
    campaign(session, shop)
    apply_purchase(session, shop, order("o1", 10000, day=12), now=at(12))
    m = member(session)
    assert (m.points_pending, m.points_available) == (200, 0)
    refresh_shop(session, shop, at(12 + 15))
    session.refresh(m)
    assert (m.points_pending, m.points_available) == (0, 200)


def test_the_budget_is_first_come_and_the_rest_is_recorded_as_over_budget(session, shop):
    c = campaign(session, shop, budget=250)
    apply_purchase(session, shop, order("a", 20000, customer="1", day=11), now=at(11))  # 200
    apply_purchase(session, shop, order("b", 10000, customer="2", day=12), now=at(12))  # 100: no room
    apply_purchase(session, shop, order("c", 5000, customer="3", day=13), now=at(13))  # 50: fits
    assert awards(session) == [
        ("shopify:a", "granted", 200),
        ("shopify:b", "over_budget", 100),
        ("shopify:c", "granted", 50),
    ]
    session.refresh(c)
    assert c.granted == 250
    assert [e[2] for e in bonus_entries(session, shop)] == [200, 50]
    # Replaying everyone again decides nothing anew.
    rebuild_members(session, shop, [m.id for m in session.scalars(select(Member))], at(20))
    session.refresh(c)
    assert c.granted == 250 and len(awards(session)) == 3


def test_the_holdout_qualifies_but_never_receives_the_reward(session, shop):
    c = campaign(session, shop, holdout_pct=50)
    for n in range(12):
        apply_purchase(session, shop, order(f"o{n}", 10000, customer=str(100 + n), day=12), now=at(12))
    members = list(session.scalars(select(Member)))
    held_out = {m.id for m in members if in_holdout(c.id, m.id, 50)}
    assert held_out and len(held_out) < len(members)  # both groups are there
    statuses = {a.member_id: a.status for a in session.scalars(select(CampaignAward))}
    assert {m for m, s in statuses.items() if s == "holdout"} == held_out
    credited = set(
        session.scalars(select(LedgerTransaction.member_id).where(LedgerTransaction.source == "campaign"))
    )
    assert credited == {m.id for m in members} - held_out


def test_a_late_backdated_store_sale_withdraws_a_first_visit_bonus_and_gives_the_budget_back(session, shop):
    c = campaign(session, shop, kind="first_store_visit", bonus_points=500, budget=1000)
    apply_purchase(session, shop, order("s1", 3000, day=12, pos_location="7"), now=at(12))
    assert awards(session) == [("first_store", "granted", 500)]
    # An offline register uploads a sale from before the campaign: that was the first visit.
    apply_purchase(session, shop, order("s0", 3000, day=3, pos_location="7"), now=at(13))
    assert awards(session) == [("first_store", "withdrawn", 500)]
    assert sum(e[2] for e in bonus_entries(session, shop)) == 0
    session.refresh(c)
    assert c.granted == 0
    assert_ledger_invariants(session, shop)


def test_a_lapsing_bonus_is_paid_by_daily_upkeep_and_expires_on_its_own_date(session, shop):
    campaign(
        session, shop, kind="lapsing", bonus_points=300, lapse_days=30, bonus_expiry_days=14, ends_at=at(200)
    )
    apply_purchase(session, shop, order("o1", 1000, day=20), now=at(20))
    m = member(session)
    assert m.next_due_at is not None and m.next_due_at <= at(50)
    refresh_shop(session, shop, at(51))
    session.refresh(m)
    assert m.points_available == 300 + 10  # the bonus at once, the order's points matured
    refresh_shop(session, shop, at(50 + 15))
    session.refresh(m)
    assert m.points_available == 10
    kinds = [k for k, _sid, _p in bonus_entries(session, shop)]
    assert kinds == ["bonus"]
    assert_ledger_invariants(session, shop)


def test_an_order_edited_upwards_claims_the_extra_bonus_from_the_budget_when_it_fits(session, shop):
    c = campaign(session, shop, budget=150)
    apply_purchase(session, shop, order("o1", 10000, day=12), now=at(12))
    apply_purchase(session, shop, order("o1", 12000, day=12, version=13), now=at(13))
    assert sum(e[2] for e in bonus_entries(session, shop)) == 120
    apply_purchase(session, shop, order("o1", 30000, day=12, version=14), now=at(14))
    assert sum(e[2] for e in bonus_entries(session, shop)) == 120  # no room for 300: kept at what was granted
    session.refresh(c)
    assert c.granted == 120


def test_preview_counts_who_the_rule_would_have_reached_over_a_recent_period(session, shop):
    for n, channel_pos in enumerate([True, True, False]):
        apply_purchase(
            session,
            shop,
            order(f"o{n}", 10000, customer=str(n), day=50, pos_location="7" if channel_pos else None),
            now=at(50),
        )
    draft = campaign(
        session, shop, status="draft", started_at=None, conditions={"channels": ["pos"]}, budget=150
    )
    result = preview(session, shop, draft, at(60))
    assert result.period_end - result.period_start == timedelta(days=30)
    assert (result.members, result.points, result.over_budget) == (1, 100, 1)
    assert awards(session) == []  # a preview grants nothing


def test_daily_upkeep_finds_members_a_new_campaign_concerns_though_nothing_of_theirs_is_due(session, shop):
    apply_purchase(session, shop, order("o1", 1000, customer="quiet", day=0), now=at(0))
    apply_purchase(session, shop, order("o2", 1000, customer="birthday", day=50), now=at(50))
    quiet, birthday = member(session, "quiet"), member(session, "birthday")
    birthday.birth_month = at(100).astimezone(ZoneInfo(shop.timezone)).month
    for m in (quiet, birthday):
        m.next_due_at = at(400)  # nothing of theirs due for a long time
    session.flush()
    campaign(session, shop, kind="lapsing", bonus_points=100, lapse_days=60, starts_at=at(1), ends_at=at(300))
    campaign(session, shop, kind="birthday_month", bonus_points=100, starts_at=at(1), ends_at=at(300))
    refresh_shop(session, shop, at(61))
    assert [a[0] for a in awards(session)] == ["lapse:shopify:o1"]
    first_of_month = at(100).astimezone(ZoneInfo(shop.timezone)).replace(day=1, hour=12)
    refresh_shop(session, shop, first_of_month)
    assert sorted(a[0] for a in awards(session)) == [f"birthday:{first_of_month.year}", "lapse:shopify:o1"]
