"""The worker's daily upkeep: pending points mature once the return window closes, once per shop per day."""

from __future__ import annotations

from app.models import Member
from app.points.purchases import apply_purchase
from app.points.upkeep import run_daily_upkeep
from tests.integration.services.factories import at, order


def test_points_mature_in_the_daily_run_and_it_runs_once_a_local_day(session, shop):
    sale = apply_purchase(session, shop, order("o-1", 12000, day=0), now=at(0))
    session.commit()  # the worker's hook starts from a clean transaction (its lease claim may roll back)
    member = session.get(Member, sale.member_id)
    assert (member.points_pending, member.points_available) == (120, 0)

    assert run_daily_upkeep(now=at(5)) == {shop.domain: 0}  # inside the 14-day window: nothing matures yet
    assert run_daily_upkeep(now=at(5, hours=6)) == {}  # same day in Tokyo: already done
    assert run_daily_upkeep(now=at(15)) == {shop.domain: 1}
    session.refresh(member)
    assert (member.points_pending, member.points_available) == (0, 120)
    assert run_daily_upkeep(now=at(15, hours=1)) == {}


def test_uninstalled_shops_are_left_alone(session, shop):
    apply_purchase(session, shop, order("o-2", 5000, day=0), now=at(0))
    shop.status = "uninstalled"
    session.commit()
    assert run_daily_upkeep(now=at(20)) == {}
