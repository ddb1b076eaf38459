"""Points through the services: exactly-once crediting, newest state wins, maturity, expiry, spend,
holds, staff adjustments, refund policies, backdated sales."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from app.domain.settings import PointRules, ShopRules
from app.models import LedgerPosting, LedgerTransaction, Member, PointLot
from app.points import spending
from app.points.purchases import apply_purchase, apply_refund
from app.points.upkeep import refresh_member, refresh_shop
from app.shops.rules import save_rules
from tests.integration.services.factories import at, order, refund


def member_of(session, cid="1001") -> Member:
    return session.scalar(select(Member).where(Member.shopify_customer_id == cid))


def kinds(session) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in session.execute(
            select(LedgerTransaction.kind, LedgerTransaction.source_id).order_by(LedgerTransaction.id)
        )
    ]


def test_duplicates_and_older_snapshots_are_no_ops(session, shop):
    first = order("o1", 10000, version=0)
    apply_purchase(session, shop, first, now=at(0))
    apply_purchase(session, shop, first, now=at(0))
    newer = order("o1", 8000, version=1)
    apply_purchase(session, shop, newer, now=at(1))
    apply_purchase(session, shop, order("o1", 50000, version=0.5), now=at(1))  # older than the one applied
    apply_purchase(session, shop, first, now=at(1))
    m = member_of(session)
    assert m.points_pending == 80
    # The edit rewrites the order's one earn entry to its newest amount, at the sale's instant.
    assert kinds(session) == [("earn", "o1")]
    earn = session.scalar(select(LedgerTransaction).where(LedgerTransaction.kind == "earn"))
    assert earn.effective_at == first.processed_at


def test_refund_before_its_order_is_applied_when_the_order_arrives(session, shop):
    apply_refund(session, shop, refund("r1", "o1", 2500, day=1), now=at(1))
    assert member_of(session) is None
    apply_purchase(session, shop, order("o1", 10000), now=at(2))
    apply_refund(session, shop, refund("r1", "o1", 2500, day=1), now=at(2))  # re-delivered
    m = member_of(session)
    assert m.points_pending == 75
    assert kinds(session) == [("earn", "o1"), ("refund_reversal", "r1")]


def test_refunds_on_the_snapshot_and_by_webhook_count_once(session, shop):
    r1 = refund("r1", "o1", 1000, day=1)
    apply_purchase(session, shop, order("o1", 10000), now=at(0))
    apply_refund(session, shop, r1, now=at(1))
    apply_purchase(session, shop, order("o1", 10000, version=1, refunds=(r1,)), now=at(1))
    assert member_of(session).points_pending == 90


def test_cancelled_order_takes_its_points_back(session, shop):
    apply_purchase(session, shop, order("o1", 10000), now=at(0))
    apply_purchase(session, shop, order("o1", 10000, version=1, cancelled=True), now=at(1))
    m = member_of(session)
    assert m.points_pending == 0
    # Earned at the sale, taken back at the cancellation (the snapshot's time when the order gives none).
    assert kinds(session)[-1] == ("cancel", "o1")
    cancel = session.scalar(select(LedgerTransaction).where(LedgerTransaction.kind == "cancel"))
    assert cancel.effective_at == order("o1", 10000, version=1).source_updated_at


def test_walk_in_and_test_orders_earn_nothing(session, shop):
    assert apply_purchase(session, shop, order("o1", 10000, customer=None), now=at(0)) is None
    assert apply_purchase(session, shop, replace(order("o2", 10000), test=True), now=at(0)) is None
    assert session.scalar(select(func.count(LedgerTransaction.id))) == 0


def test_points_mature_after_the_return_window_then_expire_a_year_after_the_last_earning_purchase(
    session, shop
):
    apply_purchase(session, shop, order("o1", 10000, day=0), now=at(0))
    apply_purchase(session, shop, order("o2", 5000, day=100), now=at(100))
    m = member_of(session)
    refresh_member(session, shop, m.id, at(13))
    assert (m.points_pending, m.points_available) == (150, 0) or (m.points_pending, m.points_available) == (
        50,
        100,
    )
    refresh_shop(session, shop, at(120))
    assert (m.points_pending, m.points_available) == (0, 150)
    refresh_shop(session, shop, at(100 + 364))
    assert m.points_available == 150  # o2 keeps o1's points alive (expiry follows the last earning purchase)
    refresh_shop(session, shop, at(100 + 366))
    assert m.points_available == 0
    expired = session.scalar(select(func.sum(LedgerPosting.points)).where(LedgerPosting.account == "expired"))
    assert expired == 150
    refresh_shop(session, shop, at(900))
    assert session.scalar(select(func.count()).where(LedgerTransaction.kind == "expire")) == 2  # once per lot


def test_per_lot_expiry_and_spend_oldest_first(session, shop):
    save_rules(session, shop, ShopRules(points=PointRules(expiry_mode="per_lot")))
    apply_purchase(session, shop, order("o1", 10000, day=0), now=at(0))
    apply_purchase(session, shop, order("o2", 5000, day=200), now=at(200))
    m = member_of(session)
    refresh_shop(session, shop, at(220))
    assert spending.spend(session, m, 30, source="pos", source_id="s1", now=at(220))
    assert not spending.spend(session, m, 30, source="pos", source_id="s1", now=at(220))  # idempotent
    lots = {lot.purchase_id: lot for lot in session.scalars(select(PointLot))}
    assert sorted(lot.remaining for lot in lots.values()) == [50, 70]  # the oldest lot paid
    refresh_shop(session, shop, at(366))
    assert m.points_available == 50  # o1's lot expired alone, o2's lives on
    with pytest.raises(spending.InsufficientPoints):
        spending.spend(session, m, 51, source="pos", source_id="s2", now=at(366))


def test_holds_capture_and_release(session, shop):
    apply_purchase(session, shop, order("o1", 30000), now=at(0))
    m = member_of(session)
    refresh_shop(session, shop, at(15))
    spending.hold(session, m, 100, key="code-1", now=at(15))
    assert (m.points_available, m.points_held) == (200, 100)
    spending.hold(session, m, 100, key="code-1", now=at(15))  # same code: nothing more held
    assert spending.capture(session, m, "code-1", at(16))
    assert not spending.release(session, m, "code-1", at(16))
    spending.hold(session, m, 50, key="code-2", now=at(16))
    assert spending.release(session, m, "code-2", at(17))
    assert (m.points_available, m.points_held) == (200, 0)
    redeemed = session.scalar(
        select(func.sum(LedgerPosting.points)).where(LedgerPosting.account == "redeemed")
    )
    assert redeemed == 100


def test_staff_adjustments_need_a_reason_and_are_new_entries(session, shop):
    apply_purchase(session, shop, order("o1", 10000), now=at(0))
    m = member_of(session)
    with pytest.raises(ValueError):
        spending.adjust(session, m, 50, reason=" ", source_id="adj-1", now=at(1))
    assert spending.adjust(
        session, m, 50, reason="birthday bonus", source_id="adj-1", now=at(1), actor="staff@shop"
    )
    assert not spending.adjust(session, m, 50, reason="birthday bonus", source_id="adj-1", now=at(1))
    assert spending.adjust(session, m, -20, reason="correction", source_id="adj-2", now=at(2))
    assert (m.points_available, m.points_pending) == (30, 100)
    reasons = list(
        session.scalars(select(LedgerTransaction.reason).where(LedgerTransaction.kind == "adjust"))
    )
    assert reasons == ["staff@shop: birthday bonus", "correction"]


@pytest.mark.parametrize("policy", ["allow_negative", "claw_back_pending"])
def test_refund_after_spending_follows_the_shop_policy(session, shop, policy):
    save_rules(session, shop, ShopRules(points=PointRules(negative_policy=policy)))
    apply_purchase(session, shop, order("o1", 10000, day=0), now=at(0))
    m = member_of(session)
    refresh_shop(session, shop, at(15))
    spending.spend(session, m, 100, source="pos", source_id="s1", now=at(15))
    apply_purchase(session, shop, order("o2", 8000, day=16), now=at(16))  # 80 pending
    apply_refund(session, shop, refund("r1", "o1", 5000, day=17), now=at(17))  # 50 to take back, all spent
    if policy == "allow_negative":
        assert (m.points_available, m.points_pending, m.points_flag) == (-50, 80, "negative_balance")
        refresh_shop(session, shop, at(31))  # o2 matures and pays the debt first
        assert (m.points_available, m.points_debt) == (30, 0)
    else:
        assert (m.points_available, m.points_pending, m.points_flag) == (0, 30, None)
    total = session.scalar(select(func.sum(LedgerPosting.points)))
    assert total == 0


def test_claw_back_with_nothing_left_writes_off_and_flags(session, shop):
    save_rules(session, shop, ShopRules(points=PointRules(negative_policy="claw_back_pending")))
    apply_purchase(session, shop, order("o1", 10000), now=at(0))
    m = member_of(session)
    refresh_shop(session, shop, at(15))
    spending.spend(session, m, 100, source="pos", source_id="s1", now=at(15))
    apply_refund(session, shop, refund("r1", "o1", 10000, day=16), now=at(16))
    assert (m.points_available, m.points_flag) == (0, "refund_writeoff")
    writeoff = session.scalar(
        select(func.sum(LedgerPosting.points)).where(LedgerPosting.account == "writeoff")
    )
    assert writeoff == -100


def test_backdated_offline_pos_sale_recomputes_the_sales_after_it(session, shop):
    apply_purchase(session, shop, order("o-late-seen-first", 10000, day=10), now=at(10))
    assert member_of(session).points_pending == 100
    # An offline POS sale from day 5 syncs on day 11: the member was silver before day 10's sale.
    apply_purchase(session, shop, order("o-offline", 30000, day=5, pos_location="7"), now=at(11))
    points = dict(session.execute(select(LedgerTransaction.source_id, LedgerTransaction.kind)).all())
    assert points["o-offline"] == "earn"
    m = member_of(session)
    assert m.points_pending == 300 + 120  # day 10's sale now earns at silver (x1.2)
    assert points["o-late-seen-first"] == "earn"  # its one earn entry, rewritten to 120
