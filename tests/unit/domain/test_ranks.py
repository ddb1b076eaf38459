"""Rank rules matrix: every basis, window, downgrade timing and step, floors, and the preview."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.domain.history import PurchaseFact, RefundFact
from app.domain.ranks import MemberRankInput, RankFloor, held_before, held_now, preview
from app.domain.settings import RankRules, Tier

TZ = "Asia/Tokyo"
RATE = Decimal("0.01")
DEFAULT = RankRules(cycle_start_month=4)


def jst(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, tzinfo=ZoneInfo(TZ))


def buy(
    when: datetime, amount: int, *, refunds: tuple[tuple[datetime, int], ...] = (), ref: str | None = None
) -> PurchaseFact:
    return PurchaseFact(
        ref=ref or f"o-{when.isoformat()}-{amount}",
        processed_at=when,
        gross=Decimal(amount),
        channel="online",
        refunds=tuple(RefundFact(Decimal(a), t) for t, a in refunds),
    )


def rank(facts, rules, at, floor=None) -> str:
    return held_now(facts, rules, RATE, at, TZ, floor).handle


def test_spend_rolling_immediate_upgrades_at_once_and_downgrades_when_sales_age_out():
    facts = [buy(jst(2026, 5, 1), 20000), buy(jst(2026, 5, 11), 15000)]
    assert rank(facts, DEFAULT, jst(2026, 5, 2)) == "regular"
    assert rank(facts, DEFAULT, jst(2026, 5, 11)) == "silver"  # the sale itself counts at its instant
    assert held_before(facts, DEFAULT, RATE, jst(2026, 5, 11), TZ).handle == "regular"  # ...but not before it
    assert rank(facts, DEFAULT, jst(2027, 4, 30)) == "silver"
    assert rank(facts, DEFAULT, jst(2027, 5, 2)) == "regular"  # the first sale left the 365-day window


def test_refund_lowers_spend_and_immediate_rank_falls():
    facts = [buy(jst(2026, 5, 1), 20000), buy(jst(2026, 5, 11), 15000, refunds=((jst(2026, 5, 20), 10000),))]
    assert rank(facts, DEFAULT, jst(2026, 5, 19)) == "silver"
    assert rank(facts, DEFAULT, jst(2026, 5, 21)) == "regular"


def test_points_basis_counts_base_points_not_multiplied_ones():
    rules = replace(
        DEFAULT,
        basis="points",
        tiers=(
            Tier("regular", Decimal(0), Decimal("1.0")),
            Tier("silver", Decimal(300), Decimal("1.2")),
            Tier("gold", Decimal(1000), Decimal("1.5")),
        ),
    )
    facts = [buy(jst(2026, 5, 1), 29999), buy(jst(2026, 5, 2), 199)]  # 299 + 1 points, floored per order
    assert rank(facts, rules, jst(2026, 5, 3)) == "silver"
    assert rank(facts[:1], rules, jst(2026, 5, 3)) == "regular"


def test_count_basis_ignores_fully_refunded_and_cancelled_purchases():
    rules = replace(
        DEFAULT,
        basis="count",
        tiers=(Tier("regular", Decimal(0), Decimal(1)), Tier("silver", Decimal(3), Decimal("1.2"))),
    )
    facts = [buy(jst(2026, 5, d), 1000) for d in (1, 2)]
    returned = buy(jst(2026, 5, 3), 1000, refunds=((jst(2026, 5, 4), 1000),))
    assert rank([*facts, returned], rules, jst(2026, 5, 3)) == "silver"
    assert rank([*facts, returned], rules, jst(2026, 5, 5)) == "regular"
    cancelled = replace(buy(jst(2026, 5, 3), 1000), cancelled=True)
    assert rank([*facts, cancelled], rules, jst(2026, 5, 5)) == "regular"
    assert rank([*facts, buy(jst(2026, 5, 6), 1)], rules, jst(2026, 5, 7)) == "silver"


def test_yearly_window_restarts_at_the_cycle_start_month():
    yearly = replace(DEFAULT, window="yearly")
    facts = [buy(jst(2026, 3, 10), 35000)]
    assert rank(facts, yearly, jst(2026, 3, 31, 23)) == "silver"
    assert rank(facts, yearly, jst(2026, 4, 1, 0)) == "regular"  # new cycle, immediate downgrade
    assert rank(facts, DEFAULT, jst(2026, 4, 1, 0)) == "silver"  # the rolling window still has it
    in_tokyo_april = jst(2026, 3, 31, 23).astimezone(ZoneInfo("UTC")).replace(hour=15, minute=0)
    assert in_tokyo_april.astimezone(ZoneInfo(TZ)).month == 4  # boundary is shop midnight, not UTC midnight
    assert rank(facts, yearly, in_tokyo_april) == "regular"


def test_next_cycle_downgrade_with_reset_keeps_rank_until_the_boundary():
    rules = replace(DEFAULT, downgrade_timing="next_cycle", downgrade_step="reset")
    facts = [buy(jst(2026, 5, 1), 35000)]
    assert rank(facts, rules, jst(2026, 5, 2)) == "silver"
    assert rank(facts, rules, jst(2027, 6, 1)) == "silver"  # no longer qualifies, kept until next April
    assert rank(facts, DEFAULT, jst(2027, 6, 1)) == "regular"  # immediate would have dropped it
    assert rank(facts, rules, jst(2028, 4, 1, 1)) == "regular"


def test_next_cycle_refund_does_not_drop_rank_mid_cycle():
    rules = replace(DEFAULT, downgrade_timing="next_cycle")
    facts = [buy(jst(2026, 5, 1), 35000, refunds=((jst(2026, 6, 1), 20000),))]
    assert rank(facts, rules, jst(2026, 7, 1)) == "silver"
    assert rank(facts, DEFAULT, jst(2026, 7, 1)) == "regular"
    assert rank(facts, rules, jst(2027, 4, 1, 1)) == "regular"  # at the boundary it counts


def test_next_cycle_one_tier_steps_down_one_tier_per_boundary():
    rules = replace(DEFAULT, downgrade_timing="next_cycle", downgrade_step="one_tier")
    facts = [buy(jst(2026, 5, 1), 350000)]
    assert rank(facts, rules, jst(2026, 5, 2)) == "platinum"
    assert rank(facts, rules, jst(2027, 4, 1, 1)) == "platinum"  # still qualified over the window ending then
    assert rank(facts, rules, jst(2028, 4, 1, 1)) == "gold"
    assert rank(facts, rules, jst(2029, 4, 1, 1)) == "silver"
    assert rank(facts, rules, jst(2030, 4, 1, 1)) == "regular"
    reset = replace(rules, downgrade_step="reset")
    assert rank(facts, reset, jst(2028, 4, 1, 1)) == "regular"


def test_next_cycle_upgrades_still_apply_at_once():
    rules = replace(DEFAULT, downgrade_timing="next_cycle")
    facts = [buy(jst(2026, 5, 1), 35000), buy(jst(2026, 8, 1), 70000)]
    assert rank(facts, rules, jst(2026, 7, 31)) == "silver"
    assert rank(facts, rules, jst(2026, 8, 1)) == "gold"


def test_rank_floor_holds_until_it_expires():
    floor = RankFloor("gold", starts_at=jst(2026, 5, 1), expires_at=jst(2026, 9, 1))
    facts = [buy(jst(2026, 5, 2), 1000)]
    assert rank(facts, DEFAULT, jst(2026, 4, 30), floor) == "regular"  # not before staff set it
    assert rank(facts, DEFAULT, jst(2026, 6, 1), floor) == "gold"
    assert rank(facts, DEFAULT, jst(2026, 9, 2), floor) == "regular"
    rich = [buy(jst(2026, 5, 2), 400000)]
    assert rank(rich, DEFAULT, jst(2026, 6, 1), floor) == "platinum"  # a floor never lowers a rank


def test_rank_before_a_purchase_gives_its_multiplier():
    facts = [buy(jst(2026, 5, 1), 12000), buy(jst(2026, 5, 2), 25000), buy(jst(2026, 5, 3), 1000)]
    assert held_before(facts, DEFAULT, RATE, jst(2026, 5, 2), TZ).multiplier == Decimal("1.0")
    assert held_before(facts, DEFAULT, RATE, jst(2026, 5, 3), TZ).multiplier == Decimal("1.2")


def test_backdated_sale_changes_only_later_instants():
    late = buy(jst(2026, 5, 1), 30000, ref="late")
    facts = [buy(jst(2026, 5, 10), 5000)]
    assert held_before(facts, DEFAULT, RATE, jst(2026, 5, 10), TZ).handle == "regular"
    assert held_before([*facts, late], DEFAULT, RATE, jst(2026, 5, 10), TZ).handle == "silver"
    assert held_before([*facts, late], DEFAULT, RATE, jst(2026, 4, 30), TZ).handle == "regular"


def test_preview_counts_who_would_move():
    members = [
        MemberRankInput(1, "regular", [buy(jst(2026, 5, 1), 25000)]),
        MemberRankInput(2, "silver", [buy(jst(2026, 5, 1), 35000)]),
        MemberRankInput(3, "gold", [buy(jst(2026, 5, 1), 150000)]),
    ]
    lower_silver = replace(
        DEFAULT,
        tiers=(
            Tier("regular", Decimal(0), Decimal(1)),
            Tier("silver", Decimal(20000), Decimal("1.2")),
            Tier("gold", Decimal(200000), Decimal("1.5")),
        ),
    )
    result = preview(members, lower_silver, RATE, jst(2026, 6, 1), TZ)
    assert (result.up, result.down, result.unchanged) == (1, 1, 1)
    assert result.moves == {("regular", "silver"): 1, ("gold", "silver"): 1}


@pytest.mark.parametrize("window", ["rolling_365", "yearly"])
@pytest.mark.parametrize("timing", ["immediate", "next_cycle"])
@pytest.mark.parametrize("step", ["reset", "one_tier"])
@pytest.mark.parametrize("basis", ["spend", "points", "count"])
def test_every_combination_upgrades_at_once_and_is_deterministic(window, timing, step, basis):
    rules = replace(DEFAULT, window=window, downgrade_timing=timing, downgrade_step=step, basis=basis)
    if basis != "spend":
        thresholds = {"points": (300, 1000, 3000), "count": (2, 5, 10)}[basis]
        rules = replace(
            rules,
            tiers=tuple(
                Tier(h, Decimal(t), Decimal(m))
                for h, t, m in zip(
                    ("regular", "silver", "gold", "platinum"), (0, *thresholds), (1, 1.2, 1.5, 2), strict=True
                )
            ),
        )
    facts = [buy(jst(2026, 5, 1), 20000), buy(jst(2026, 5, 2), 20000), buy(jst(2026, 5, 3), 80000)]
    assert rank(facts, rules, jst(2026, 4, 30)) == "regular"
    after = rank(facts, rules, jst(2026, 5, 3))
    assert rules.index(after) >= 1  # every basis reaches at least silver with these sales
    assert rank(list(reversed(facts)), rules, jst(2026, 5, 3)) == after  # order of the facts does not matter
