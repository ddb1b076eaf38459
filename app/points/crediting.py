"""An order's points as a function of its newest state: recompute, then post only the difference.

The multiplier is the rank the member held just before the purchase (app/domain/ranks.py), so a late or
backdated sale, a refund or a merge re-evaluates the purchases after the instant it touches, and only those.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.points import matures_at, order_points
from app.domain.ranks import held_before
from app.domain.settings import ShopRules
from app.members.records import member_purchases, rank_floor, refunds_by_purchase, to_fact, touch
from app.models.ledger import LedgerTransaction, PointLot
from app.models.member import Member
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop
from app.points import ledger
from app.points.ranks import evaluate_member


def _has_earn(session: Session, purchase: Purchase) -> bool:
    stmt = select(LedgerTransaction.id).where(
        LedgerTransaction.shop_id == purchase.shop_id,
        LedgerTransaction.source == purchase.source,
        LedgerTransaction.source_id == purchase.source_id,
        LedgerTransaction.kind == "earn",
    )
    return session.scalar(stmt) is not None


def _post_delta(
    session: Session,
    rules: ShopRules,
    member: Member,
    purchase: Purchase,
    delta: int,
    lots: list[PointLot],
    entry: ledger.Entry,
) -> None:
    # Keys posted from here are new by construction (first earn checked, numbered revisions, new refunds).
    if delta > 0:
        matures = matures_at(purchase.processed_at, rules.points)
        ledger.credit(session, member, purchase, delta, entry, matures_at=matures, lots=lots, fresh=True)
    elif delta < 0:
        ledger.debit_order(session, member, purchase, -delta, rules.points, entry, lots=lots, fresh=True)


def _settle_change(
    session: Session,
    rules: ShopRules,
    member: Member,
    purchase: Purchase,
    delta: int,
    lots: list[PointLot],
    now: datetime,
) -> None:
    """Post a change not caused by a new refund: the first earn, or a numbered adjustment."""
    if delta == 0:
        return
    if delta > 0 and purchase.points == 0 and not _has_earn(session, purchase):
        entry = ledger.Entry(purchase.source, purchase.source_id, "earn", now)
    else:
        purchase.points_revision += 1
        reason = (
            "order cancelled" if purchase.cancelled else "order changed, or the rank before it re-evaluated"
        )
        entry = ledger.Entry(
            purchase.source, f"{purchase.source_id}#{purchase.points_revision}", "earn_adjust", now, reason
        )
    _post_delta(session, rules, member, purchase, delta, lots, entry)


def recompute(
    session: Session,
    shop: Shop,
    rules: ShopRules,
    member: Member,
    now: datetime,
    *,
    subjects: Iterable[int] = (),
    touched_from: datetime | None = None,
    new_refunds: dict[int, list[PurchaseRefund]] | None = None,
    changed: bool = False,
) -> bool:
    """Re-derive the points of `subjects` and of every purchase after `touched_from`; post the differences.

    `new_refunds` (purchase id -> refunds just recorded) get one `refund_reversal` each, keyed by refund id,
    so a refund's reversal is posted once whatever else changes later. `changed` says the caller changed
    the history already; returns whether anything changed (the member is then marked for sync).
    """
    new_refunds = new_refunds or {}
    subject_ids = set(subjects)
    purchases = member_purchases(session, member)
    refunds = refunds_by_purchase(session, purchases)
    facts = [to_fact(p, refunds.get(p.id, [])) for p in purchases]
    floor = rank_floor(member)
    lots = ledger.member_lots(session, member)
    for purchase in purchases:
        if purchase.id not in subject_ids and (touched_from is None or purchase.processed_at <= touched_from):
            continue
        tier = held_before(facts, rules.ranks, rules.points.rate, purchase.processed_at, shop.timezone, floor)
        before = (purchase.earn_rank, purchase.earn_multiplier, purchase.points)
        purchase.earn_rank, purchase.earn_multiplier = tier.handle, tier.multiplier
        fresh = sorted(new_refunds.get(purchase.id, []), key=lambda r: (r.processed_at, r.id))
        pending_ids = [r.id for r in fresh]
        targets = []
        for k in range(len(fresh) + 1):
            fact = to_fact(purchase, refunds.get(purchase.id, []), exclude=frozenset(pending_ids[k:]))
            targets.append(order_points(fact.net, purchase.earn_rate, tier.multiplier))
        _settle_change(session, rules, member, purchase, targets[0] - purchase.points, lots, now)
        purchase.points = targets[0]
        for refund, (earlier, later) in zip(fresh, pairwise(targets), strict=True):
            if later != earlier:
                reversal = ledger.Entry(
                    refund.source, refund.source_id, "refund_reversal", now, f"refund of {refund.amount}"
                )
                _post_delta(session, rules, member, purchase, later - earlier, lots, reversal)
            purchase.points = later
        if (purchase.earn_rank, purchase.earn_multiplier, purchase.points) != before:
            purchase.updated_at = now
            changed = True
    earning = [p.processed_at for p in purchases if p.points > 0]
    last_earning = max(earning) if earning else None
    changed = changed or last_earning != member.last_earning_at
    member.last_earning_at = last_earning
    changed = ledger.mature_due(session, member, now, lots) or changed
    changed = ledger.expire_due(session, member, rules.points, now, lots) or changed
    changed = evaluate_member(session, shop, member, now, rules=rules, facts=facts) or changed
    if changed:
        touch(member, now)
    session.flush()
    return changed
