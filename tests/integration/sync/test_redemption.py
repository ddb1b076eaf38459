"""Redemption: a single-use code for the member, points held, spent on use, returned when it ends unused."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.ledger import PointHold
from app.models.member import Member
from app.models.rewards import Redemption
from app.models.shop import Shop
from app.points import redemption
from app.points.upkeep import refresh_member
from app.shopify.client import AdminClient
from app.shopify.pacing import CostPacer
from app.sync.syncer import sync_shop
from tests.integration.sync.conftest import assert_shopify_matches_db


def member_with_points(world, amount: str = "50000") -> tuple[int, Member]:
    """A customer whose points have matured (the return window is over)."""
    cid = world.customer()
    world.buy(cid, amount)
    world.clock.sleep(timedelta(days=15).total_seconds())
    member = world.session.scalars(select(Member).where(Member.shopify_customer_id == str(cid))).one()
    refresh_member(world.session, world.shop, member.id, world.clock.utc())
    world.session.commit()
    assert member.points_available > 0
    return cid, member


def redeem(world, member, points, key="req-1", **kwargs):
    return redemption.redeem(
        world.session,
        world.shop,
        world.client(),
        world.pacer(),
        member.id,
        points,
        request_key=key,
        now=world.clock.utc(),
        **kwargs,
    )


def test_code_created_for_that_customer_and_points_held(world):
    cid, member = member_with_points(world)
    available = member.points_available
    row = redeem(world, member, 300)
    assert row.status == "active" and row.discount_gid
    discount = next(d for d in world.remote.discounts.values() if d["code"] == row.code)
    assert discount["customer_ids"] == [cid] and discount["usage_limit"] == 1
    assert discount["value"]["discountAmount"]["amount"] == "300.00"
    world.session.refresh(member)
    assert (member.points_available, member.points_held) == (available - 300, 300)
    assert redeem(world, member, 300).id == row.id  # the same request again: the same code, nothing more held
    world.session.refresh(member)
    assert member.points_held == 300


def test_spent_when_an_order_uses_the_code_and_synced(world):
    cid, member = member_with_points(world)
    row = redeem(world, member, 200)
    world.buy(cid, "8000", pos=True, codes=(row.code,))  # used at the till
    assert redemption.settle_used(world.session, world.shop, world.clock.utc()) == 1
    world.session.refresh(row)
    world.session.refresh(member)
    assert row.status == "used" and member.points_held == 0
    hold = world.session.scalars(select(PointHold).where(PointHold.key == row.hold_key)).one()
    assert hold.status == "captured"
    sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    assert_shopify_matches_db(world)


def test_returned_when_the_code_ends_unused(world):
    _, member = member_with_points(world)
    available = member.points_available
    row = redeem(world, member, 250, validity=timedelta(days=7))
    world.clock.sleep(timedelta(days=8).total_seconds())
    assert redemption.release_expired(world.session, world.shop, world.clock.utc()) == 0  # grace period
    world.clock.sleep(timedelta(days=3).total_seconds())
    assert redemption.release_expired(world.session, world.shop, world.clock.utc()) == 1
    world.session.refresh(row)
    world.session.refresh(member)
    assert row.status == "expired" and member.points_held == 0 and member.points_available == available


def test_not_enough_points_is_refused_and_nothing_is_created(world):
    _, member = member_with_points(world, "5000")
    with pytest.raises(redemption.InsufficientPoints):
        redeem(world, member, member.points_available + 1)
    assert world.remote.discounts == {} and world.session.scalars(select(Redemption)).all() == []


def test_two_parallel_redemptions_of_the_same_points_one_succeeds(world, app):
    _, member = member_with_points(world)
    points, member_id, shop_id = member.points_available, member.id, world.shop.id
    world.session.commit()  # end the read: on SQLite an open transaction holds the write lock
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(key: str) -> None:
        with app.app_context():
            session = db.session
            shop = session.get(Shop, shop_id)
            session.commit()  # not waiting at the barrier with SQLite's write lock in hand
            pacer = CostPacer.for_plan("standard", clock=world.clock, sleep=world.clock.sleep)
            barrier.wait()
            for _ in range(3):
                try:
                    redemption.redeem(
                        session, shop, AdminClient(shop, session=session), pacer, member_id, points,
                        request_key=key, now=world.clock.utc(),
                    )  # fmt: skip
                    outcomes.append("ok")
                    return
                except redemption.RedemptionConflict:
                    continue  # the other one changed the member: look again
                except redemption.InsufficientPoints:
                    outcomes.append("refused")
                    return
                finally:
                    session.rollback()
            outcomes.append("gave up")

    threads = [threading.Thread(target=attempt, args=(f"req-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["ok", "refused"]
    world.session.expire_all()
    member = world.session.get(Member, member_id)
    assert member.points_held == points and member.points_available == 0
    assert len(world.remote.discounts) == 1
