"""Loyalty events become Flow triggers: found by the watcher, queued once, sent through flowTriggerReceive."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.flow.jobs import flow_tick
from app.members.records import touch
from app.models.integrations import FlowTrigger
from app.models.member import Member
from app.models.purchase import Purchase
from app.points.ranks import set_rank_floor
from app.points.upkeep import refresh_member
from app.shopify.errors import ShopifyUserErrors
from app.shopify.flow import send_trigger

DAYS = 14


def tick(world, days: int = DAYS) -> list[dict]:
    """One worker pass; the triggers the emulated Flow accepted during it."""
    before = len(world.remote.flow_triggers)
    flow_tick(world.shop, world.clock.utc(), days)
    return world.remote.flow_triggers[before:]


def member_of(world, cid: int) -> Member:
    return world.session.scalars(select(Member).where(Member.shopify_customer_id == str(cid))).one()


def test_a_purchase_sends_points_earned_once(world):
    cid = world.customer()
    order_id = world.buy(cid, "12000")
    points = world.session.scalar(select(Purchase.points).where(Purchase.source_id == order_id))
    assert points > 0
    assert tick(world) == [
        {"handle": "points-earned", "payload": {"customer_id": cid, "points": points, "order id": order_id}}
    ]
    assert tick(world) == []


def test_a_rank_change_sends_one_trigger_and_is_not_repeated(world):
    cid = world.customer()
    world.buy(cid, "1000")
    tick(world)  # the purchase's points-earned
    member = member_of(world, cid)
    set_rank_floor(world.session, world.shop, member, "gold", None, world.clock.utc())
    world.session.commit()
    sent = tick(world)
    assert sent == [
        {"handle": "rank-changed", "payload": {"customer_id": cid, "old rank": "regular", "new rank": "gold"}}
    ]
    assert tick(world) == []
    member = member_of(world, cid)
    touch(member)  # a change that is not a rank change (the version moves, the rank stays)
    world.session.commit()
    assert tick(world) == []
    rows = world.session.scalars(select(FlowTrigger).where(FlowTrigger.handle == "rank-changed")).all()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)]


def test_members_from_before_the_first_pass_send_no_backlog(world):
    cid = world.customer()
    world.buy(cid, "1000")
    member = member_of(world, cid)
    member.created_at = world.clock.utc() - timedelta(days=3)  # a member from before Flow was wired
    set_rank_floor(world.session, world.shop, member, "gold", None, world.clock.utc())
    world.session.commit()
    assert tick(world) == []  # first seen long after it was created: its state is the baseline


def test_line_link_sends_line_linked(world):
    cid = world.customer()
    world.buy(cid, "100")
    tick(world)
    member = member_of(world, cid)
    member.line_linked = True
    touch(member)
    world.session.commit()
    assert tick(world) == [{"handle": "line-linked", "payload": {"customer_id": cid}}]
    assert tick(world) == []


def test_points_expiring_within_the_notice_window_are_announced_once(world):
    cid = world.customer()
    world.buy(cid, "50000")
    tick(world)
    world.clock.sleep(timedelta(days=15).total_seconds())  # the return window ends: the points are available
    member = member_of(world, cid)
    refresh_member(world.session, world.shop, member.id, world.clock.utc())
    world.session.commit()
    assert tick(world) == []  # nothing expires within the next 14 days yet
    from app.points.ledger import member_lots

    expires_at = min(lot.expires_at for lot in member_lots(world.session, member) if lot.expires_at)
    world.clock.sleep((expires_at - world.clock.utc() - timedelta(days=DAYS - 1)).total_seconds())
    sent = tick(world)
    expires_on = expires_at.astimezone(ZoneInfo(world.shop.timezone)).date().isoformat()
    member = member_of(world, cid)
    assert sent == [
        {
            "handle": "points-expiring",
            "payload": {"customer_id": cid, "points": member.points_available, "expires on": expires_on},
        }
    ]
    assert tick(world) == []


@pytest.mark.parametrize(
    "handle, payload",
    [
        ("no-such-trigger", {"customer_id": 1}),
        ("rank-changed", {"old rank": "regular", "new rank": "gold"}),  # no customer reference
        ("rank-changed", {"customer_id": "CID", "old rank": "regular"}),  # "new rank" missing
        ("points-earned", {"customer_id": "CID", "points": "12", "order id": "1"}),  # points not an integer
        ("points-expiring", {"customer_id": "CID", "points": 1, "expires on": "31/01/2027"}),  # not a date
        ("line-linked", {"customer_id": "CID", "email": "a@example.com"}),  # a field it does not declare
    ],
)
def test_the_emulated_flow_refuses_payloads_off_the_declared_schema(world, handle, payload):
    cid = world.customer()
    payload = {k: (cid if v == "CID" else v) for k, v in payload.items()}
    with pytest.raises(ShopifyUserErrors):
        send_trigger(world.client(), world.pacer(), handle, payload)
    assert world.remote.flow_triggers == []


def test_a_refused_trigger_is_failed_with_field_names_only(world):
    cid = world.customer()
    world.buy(cid, "1000")
    member = member_of(world, cid)
    member.shopify_customer_id = "424242"  # a customer Shopify does not have
    world.session.commit()
    assert tick(world) == []
    (row,) = world.session.scalars(select(FlowTrigger)).all()
    assert (row.status, row.last_error) == ("failed", "userErrors: payload.customer_id")
