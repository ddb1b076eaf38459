"""Races on the points ledger (PostgreSQL, real concurrent transactions): 50 parallel redemptions of the same
points, and two expiry jobs over the same shop at the same moment.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models.ledger import LedgerTransaction, PointLot
from app.models.member import Member
from app.models.shop import Shop
from app.points import redemption
from app.points.upkeep import refresh_member, refresh_shop
from app.shopify.client import AdminClient
from app.shopify.pacing import CostPacer
from tests.reliability.books import books_balance
from tests.reliability.conftest import size

pytestmark = pytest.mark.postgres  # SQLite runs one writer at a time: no race to lose

REDEMPTIONS = 50
SHARES = 10  # the member's points cover exactly this many of the parallel requests


def test_fifty_parallel_redemptions_take_the_points_exactly_once(world, app):
    cid = world.customer()
    world.buy(cid, "100000")
    world.clock.sleep(timedelta(days=15).total_seconds())  # past the return window: points available
    member = world.session.scalars(select(Member).where(Member.shopify_customer_id == str(cid))).one()
    refresh_member(world.session, world.shop, member.id, world.clock.utc())
    world.session.commit()
    available = member.points_available
    share = available // SHARES
    assert share > 0
    member_id, shop_id = member.id, world.shop.id
    barrier = threading.Barrier(REDEMPTIONS)
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        with app.app_context(), Session(engine) as session:
            pacer = CostPacer.for_plan("standard", clock=world.clock, sleep=world.clock.sleep)
            barrier.wait(timeout=120)
            try:
                shop = session.get(Shop, shop_id)
                for _ in range(500):
                    try:
                        redemption.redeem(
                            session, shop, AdminClient(shop, session=session), pacer, member_id, share,
                            request_key=f"parallel-{i}", now=world.clock.utc(),
                        )  # fmt: skip
                        outcomes.append("ok")
                        return
                    except redemption.RedemptionConflict:
                        session.rollback()
                        time.sleep(0.005)  # someone else changed the member: look again
                    except redemption.InsufficientPoints:
                        outcomes.append("refused")
                        return
                outcomes.append("gave up")
            except Exception as exc:  # any other outcome is a failure of the test
                outcomes.append(f"error {type(exc).__name__}: {exc}")
            finally:
                session.rollback()
                db.session.remove()

    # 50 requests in flight at once need 50 connections (the app's pool is sized for one web worker).
    engine = create_engine(db.engine.url, pool_size=REDEMPTIONS + 5)
    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(REDEMPTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    engine.dispose()
    assert sorted(set(outcomes)) == ["ok", "refused"], outcomes
    assert outcomes.count("ok") == SHARES and outcomes.count("refused") == REDEMPTIONS - SHARES
    world.session.expire_all()
    member = world.session.get(Member, member_id)
    assert member.points_held == SHARES * share and member.points_available == available - SHARES * share
    assert len(world.remote.discounts) == SHARES
    books_balance(world.session, shop_id)


def test_two_expiry_jobs_at_once_expire_each_lot_once(world, app):
    members = size(20, 200)
    customers = [world.customer() for _ in range(members)]
    for cid in customers:
        world.buy(cid, "30000")
        world.buy(cid, "5000")
    world.clock.sleep(timedelta(days=400).total_seconds())  # matured, then a year without a purchase
    shop_id, now = world.shop.id, world.clock.utc()
    barrier = threading.Barrier(2)
    errors: list[str] = []
    changed: list[int] = []

    def job() -> None:
        with app.app_context():
            session = db.session
            try:
                barrier.wait(timeout=120)
                shop = session.get(Shop, shop_id)
                changed.append(refresh_shop(session, shop, now))
                session.commit()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:500])
                session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    session = world.session
    session.expire_all()
    lots = session.scalars(select(PointLot).where(PointLot.shop_id == shop_id)).all()
    assert len(lots) == 2 * members and all(lot.expired_at is not None for lot in lots)
    expiries = session.execute(
        select(LedgerTransaction.source_id, func.count())
        .where(LedgerTransaction.shop_id == shop_id, LedgerTransaction.kind == "expire")
        .group_by(LedgerTransaction.source_id)
    ).all()
    assert len(expiries) == 2 * members and {n for _, n in expiries} == {1}
    assert sum(changed) == members  # one job did the work, the other found nothing left to do
    assert all(
        m.points_available == 0 for m in session.scalars(select(Member).where(Member.shop_id == shop_id))
    )
    books_balance(session, shop_id)
