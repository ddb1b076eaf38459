"""Ledger invariants every import, replay and delivery order must keep."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from app.models import LedgerPosting, LedgerTransaction, Member, PointLot


def assert_ledger_invariants(session, shop) -> None:
    """Books balance; cached balances equal their entries; lots match the balances and never go below
    zero; every reversal and cancellation is matched to an earn of the same purchase, and never exceeds it."""
    total = session.scalar(select(func.sum(LedgerPosting.points)).where(LedgerPosting.shop_id == shop.id))
    assert (total or 0) == 0
    sums = defaultdict(int)
    for member_id, account, points in session.execute(
        select(LedgerPosting.member_id, LedgerPosting.account, func.sum(LedgerPosting.points))
        .where(LedgerPosting.shop_id == shop.id, LedgerPosting.member_id.is_not(None))
        .group_by(LedgerPosting.member_id, LedgerPosting.account)
    ):
        sums[(member_id, account)] = points
    lots = defaultdict(list)
    for lot in session.scalars(select(PointLot).where(PointLot.shop_id == shop.id)):
        lots[lot.member_id].append(lot)
    for member in session.scalars(select(Member).where(Member.shop_id == shop.id, Member.status == "active")):
        for account in ("pending", "available", "held"):
            assert getattr(member, f"points_{account}") == sums[(member.id, account)], (member.id, account)
        mine = lots[member.id]
        assert all(lot.pending >= 0 and lot.remaining >= 0 for lot in mine)
        assert sum(lot.pending for lot in mine) == member.points_pending
        assert sum(lot.remaining for lot in mine) - member.points_debt == member.points_available
        if member.points_available < 0:
            assert member.points_flag == "negative_balance"
    issued = defaultdict(lambda: defaultdict(int))
    for kind, purchase_id, points in session.execute(
        select(LedgerTransaction.kind, LedgerTransaction.purchase_id, func.sum(LedgerPosting.points))
        .join(LedgerPosting)
        .where(
            LedgerTransaction.shop_id == shop.id,
            LedgerTransaction.kind.in_(["earn", "refund_reversal", "cancel"]),
            LedgerPosting.account == "issued",
        )
        .group_by(LedgerTransaction.kind, LedgerTransaction.purchase_id)
    ):
        issued[purchase_id][kind] = -points
    for purchase_id, by_kind in issued.items():
        earned = by_kind.get("earn", 0)
        taken_back = -(by_kind.get("refund_reversal", 0) + by_kind.get("cancel", 0))
        assert earned > 0 or taken_back == 0, purchase_id  # no reversal without its earn
        assert 0 <= taken_back <= earned, purchase_id
