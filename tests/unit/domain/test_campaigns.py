"""Campaign rules: who a campaign rewards, how much, which of two overlapping campaigns wins, the holdout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.domain.campaigns import (
    CampaignRule,
    Sale,
    in_holdout,
    multiplier_bonus,
    occasions,
    proportional,
)

TZ = "Asia/Tokyo"
START = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # a Monday, 09:00 in Tokyo
END = START + timedelta(days=30)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def sale(key: str, day: float, gross: int = 10000, channel: str = "online", **kw) -> Sale:
    values = {"earn_rate": Decimal("0.01"), "rank": "regular", "rank_multiplier": Decimal(1)} | kw
    return Sale(key, START + timedelta(days=day), Decimal(gross), channel, **values)


def rule(cid: int = 1, kind: str = "multiplier", **kw) -> CampaignRule:
    return CampaignRule(cid, kind, kw.pop("starts_at", START), kw.pop("ends_at", END), **kw)


def test_a_multiplier_gives_the_difference_to_its_multiple_of_the_usual_points():
    two_x = rule(multiplier=Decimal(2))
    found = occasions([two_x], [sale("s:1", 1, 12345)], NOW, TZ)
    assert [(o.key, o.points, o.purchase_key) for o in found.occasions] == [("s:1", 123, "s:1")]
    gold = sale("s:2", 1, 10000, rank="gold", rank_multiplier=Decimal("1.5"))
    assert multiplier_bonus(gold, Decimal(2)) == 300 - 150  # 2x of the gold rate, less the gold points


def test_a_multiplier_only_boosts_purchases_that_match_every_condition():
    weekend_pos = rule(
        multiplier=Decimal(2),
        channels=frozenset({"pos"}),
        locations=frozenset({"shopify:7"}),
        ranks=frozenset({"gold"}),
        weekdays=frozenset({5, 6}),
    )
    saturday = 5  # START is a Monday in Tokyo
    good = sale("good", saturday, channel="pos", location="shopify:7", rank="gold")
    others = [
        sale("online", saturday, channel="online", location="shopify:7", rank="gold"),
        sale("other-store", saturday, channel="pos", location="shopify:8", rank="gold"),
        sale("regular", saturday, channel="pos", location="shopify:7", rank="regular"),
        sale("monday", 7, channel="pos", location="shopify:7", rank="gold"),
        sale("before", -2, channel="pos", location="shopify:7", rank="gold"),
        sale("after", 33, channel="pos", location="shopify:7", rank="gold"),
        sale("cancelled", saturday, channel="pos", location="shopify:7", rank="gold", cancelled=True),
    ]
    found = occasions([weekend_pos], [good, *others], NOW, TZ)
    assert [o.key for o in found.occasions] == ["good"]


def test_the_period_starts_inclusive_and_ends_exclusive():
    at_start = Sale("a", START, Decimal(10000), "online", Decimal("0.01"), "regular", Decimal(1))
    at_end = Sale("b", END, Decimal(10000), "online", Decimal("0.01"), "regular", Decimal(1))
    found = occasions([rule(multiplier=Decimal(2))], [at_start, at_end], NOW, TZ)
    assert [o.key for o in found.occasions] == ["a"]


def test_overlapping_multipliers_do_not_stack_the_highest_wins_and_a_tie_goes_to_the_older():
    two, three, three_later = (
        rule(1, multiplier=Decimal(2)),
        rule(2, multiplier=Decimal(3)),
        rule(3, multiplier=Decimal(3)),
    )
    found = occasions([three_later, two, three], [sale("s", 1)], NOW, TZ)
    assert [(o.campaign_id, o.points) for o in found.occasions] == [(2, 200)]


def test_fixed_bonuses_add_to_a_multiplier():
    two = rule(1, multiplier=Decimal(2), channels=frozenset({"pos"}))
    visit = rule(2, "first_store_visit", bonus_points=500)
    found = occasions([two, visit], [sale("s", 1, channel="pos")], NOW, TZ)
    assert sorted((o.campaign_id, o.points) for o in found.occasions) == [(1, 100), (2, 500)]


def test_first_store_visit_is_the_first_store_purchase_ever_and_only_inside_the_period():
    visit = rule(kind="first_store_visit", bonus_points=500)
    found = occasions(
        [visit],
        [sale("on", 0, channel="online"), sale("s1", 3, channel="pos"), sale("s2", 4, channel="pos")],
        NOW,
        TZ,
    )
    assert [(o.key, o.purchase_key, o.points) for o in found.occasions] == [("first_store", "s1", 500)]
    # A backdated sale from before the campaign turns out to be the first visit: nothing to reward.
    late = sale("old", -10, channel="external_pos")
    assert occasions([visit], [sale("s1", 3, channel="pos"), late], NOW, TZ).occasions == []


def test_first_online_after_a_store_purchase_is_the_cross_channel_bonus():
    cross = rule(kind="first_online_after_store", bonus_points=300)
    store_then_online = [sale("s", 1, channel="pos"), sale("o", 2, channel="online"), sale("o2", 3)]
    assert [o.purchase_key for o in occasions([cross], store_then_online, NOW, TZ).occasions] == ["o"]
    online_first = [sale("o", 1), sale("s", 2, channel="pos"), sale("o2", 3)]
    assert occasions([cross], online_first, NOW, TZ).occasions == []


def test_birthday_month_pays_on_the_first_day_of_the_month_in_shop_time_once_a_year():
    birthday = rule(kind="birthday_month", bonus_points=1000, ends_at=None)
    found = occasions([birthday], [], datetime(2027, 8, 1, tzinfo=UTC), TZ, birth_month=7)
    tokyo_july_first = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)
    assert [(o.key, o.at) for o in found.occasions] == [
        ("birthday:2026", tokyo_july_first),
        ("birthday:2027", tokyo_july_first.replace(year=2027)),
    ]
    assert found.next_at == tokyo_july_first.replace(year=2028)


def test_a_birthday_month_already_running_at_the_start_pays_at_the_start():
    birthday = rule(kind="birthday_month", bonus_points=1000, starts_at=START + timedelta(days=3))
    found = occasions([birthday], [], NOW, TZ, birth_month=6)
    assert [(o.key, o.at) for o in found.occasions] == [("birthday:2026", START + timedelta(days=3))]
    assert occasions([birthday], [], NOW, TZ, birth_month=None).occasions == []


def test_lapsing_members_get_a_bonus_with_its_own_expiry_each_time_they_lapse_in_the_period():
    lapsing = rule(kind="lapsing", bonus_points=200, lapse_days=20, bonus_expiry_days=30, ends_at=None)
    # Lapsed before the start (reward at the start), came back, lapsed again.
    sales = [sale("a", -40), sale("b", 5), sale("c", 50)]
    found = occasions([lapsing], sales, NOW, TZ)
    assert [(o.key, o.at) for o in found.occasions] == [
        ("lapse:a", START),
        ("lapse:b", START + timedelta(days=25)),
        ("lapse:c", START + timedelta(days=70)),
    ]
    assert found.occasions[0].expires_at == START + timedelta(days=30)
    assert found.occasions[0].purchase_key is None
    quiet_now = occasions([lapsing], [sale("c", 50)], START + timedelta(days=60), TZ)
    assert quiet_now.occasions == [] and quiet_now.next_at == START + timedelta(days=70)


def test_a_code_reward_is_an_occasion_without_points():
    code = rule(kind="first_store_visit", bonus_points=500, reward="code")
    found = occasions([code], [sale("s", 1, channel="pos")], NOW, TZ)
    assert [(o.key, o.points) for o in found.occasions] == [("first_store", 0)]


def test_occasions_ignore_what_has_not_happened_yet():
    found = occasions([rule(multiplier=Decimal(2))], [sale("s", 10)], START + timedelta(days=5), TZ)
    assert found.occasions == []


@given(
    st.lists(st.tuples(st.integers(-30, 60), st.sampled_from(["online", "pos"])), max_size=8), st.randoms()
)
def test_occasions_do_not_depend_on_the_order_sales_are_given_in(raw, rnd):
    rules = [
        rule(1, multiplier=Decimal(2), channels=frozenset({"pos"})),
        rule(2, "first_store_visit", bonus_points=500),
        rule(3, "first_online_after_store", bonus_points=300),
        rule(4, "lapsing", bonus_points=200, lapse_days=10),
    ]
    sales = [sale(f"s{i}", day, channel=channel) for i, (day, channel) in enumerate(raw)]
    shuffled = list(sales)
    rnd.shuffle(shuffled)
    assert occasions(rules, shuffled, NOW, TZ) == occasions(rules, sales, NOW, TZ)


def test_the_holdout_is_stable_and_close_to_its_share():
    kept = [m for m in range(20_000) if in_holdout(7, m, 10)]
    assert 0.09 < len(kept) / 20_000 < 0.11
    assert kept == [m for m in range(20_000) if in_holdout(7, m, 10)]
    assert not any(in_holdout(7, m, 0) for m in range(1000))
    # Another campaign draws its own holdout.
    assert kept != [m for m in range(20_000) if in_holdout(8, m, 10)]


def test_a_bonus_follows_its_purchase_down_in_proportion():
    assert proportional(500, Decimal(10000), Decimal(10000)) == 500
    assert proportional(500, Decimal(10000), Decimal(2500)) == 125
    assert proportional(333, Decimal(3), Decimal(1)) == 111
    assert proportional(500, Decimal(10000), Decimal(0)) == 0
