"""The history engine: replay members' histories in event time and store the result by difference.

One engine, every caller: a webhook or a register sale (one member), the install backfill and reconciliation
(thousands of members per call), daily upkeep (the members whose next maturity, expiry or rank change is
due) and a merge. Each call reads the members' purchases, refunds and point movements set-based (a few
statements per chunk of members, never one per purchase), replays each member in memory
(app/domain/replay.py) and writes only what differs (app/points/ledger_diff.py). The caller owns the
transaction; members are locked in id order so two callers cannot deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.ranks import held_now, next_rank_instant
from app.domain.replay import MOVEMENT_KINDS, MovementIn, Outcome, PurchaseIn, RefundIn, replay
from app.domain.settings import ShopRules
from app.members.records import rank_floor, touch
from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop
from app.models.types import utcnow
from app.points import ledger_diff
from app.shops.rules import load_rules, rules_version

CHUNK = 400  # members per round of statements: bounded memory, few round trips


@dataclass(slots=True)
class _History:
    """One member's inputs as stored."""

    purchases: list[PurchaseIn]
    purchase_ids: dict[str, int]
    terms: dict[str, tuple[str | None, Decimal, int, int]]  # stored rank, multiplier, points, rules version
    movements: list[MovementIn]


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def rebuild_members(
    session: Session,
    shop: Shop,
    member_ids: Iterable[int],
    now: datetime | None = None,
    *,
    rules: ShopRules | None = None,
) -> set[int]:
    """Replay the members' histories up to `now` and store the result; returns the ids that changed.

    Active members get their ledger, lots, balances, rank and purchases' earning terms; a merged member
    (its history moved to the survivor) is emptied; redacted and deleted members are left as they are.
    """
    now = now or utcnow()
    rules = rules or load_rules(shop)
    changed: set[int] = set()
    for chunk in _chunks(sorted(set(member_ids)), CHUNK):
        changed |= _rebuild_chunk(session, shop, rules, list(chunk), now)
    return changed


def _rebuild_chunk(session: Session, shop: Shop, rules: ShopRules, ids: list[int], now: datetime) -> set[int]:
    members = list(
        session.scalars(
            select(Member)
            .where(Member.id.in_(ids))
            .order_by(Member.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    histories = _load_histories(session, ids)
    diff = ledger_diff.Diff(session, shop.id, ledger_diff.load_stored(session, ids))
    version = rules_version(shop)
    changed: set[int] = set()
    purchase_updates: list[dict[str, object]] = []
    for member in members:
        if member.status not in (MemberStatus.ACTIVE, MemberStatus.MERGED):
            continue
        history = histories.get(member.id) or _History([], {}, {}, [])
        if member.status == MemberStatus.MERGED:
            history = _History([], {}, {}, [])
        floor = rank_floor(member)
        frozen = _frozen_terms(history, version)
        outcome = replay(history.purchases, history.movements, rules, now, shop.timezone, floor, frozen)
        moved = diff.member(member.id, outcome, history.purchase_ids)
        purchase_updates += _purchase_updates(history, outcome, frozen, version, now)
        if _update_member(member, history, outcome, rules, shop.timezone, now) or moved:
            touch(member, now)
            changed.add(member.id)
    session.flush()  # the members' own changes first, then the set-based writes
    diff.write()
    if purchase_updates:
        session.execute(update(Purchase), purchase_updates)
    return changed


def _load_histories(session: Session, ids: list[int]) -> dict[int | None, _History]:
    """Purchases, refunds and movements of the members, in three statements."""
    refunds: dict[int | None, list[RefundIn]] = defaultdict(list)
    refund_rows = session.execute(
        select(
            PurchaseRefund.purchase_id,
            PurchaseRefund.source,
            PurchaseRefund.source_id,
            PurchaseRefund.amount,
            PurchaseRefund.processed_at,
        )
        .join(Purchase, Purchase.id == PurchaseRefund.purchase_id)
        .where(Purchase.member_id.in_(ids))
    )
    for purchase_id, source, source_id, amount, processed_at in refund_rows:
        refunds[purchase_id].append(RefundIn(source, source_id, amount, processed_at))
    histories: dict[int | None, _History] = defaultdict(lambda: _History([], {}, {}, []))
    purchase_rows = session.execute(
        select(
            Purchase.id,
            Purchase.member_id,
            Purchase.source,
            Purchase.source_id,
            Purchase.processed_at,
            Purchase.gross_amount,
            Purchase.earn_rate,
            Purchase.channel,
            Purchase.cancelled,
            Purchase.cancelled_at,
            Purchase.source_updated_at,
            Purchase.earn_rank,
            Purchase.earn_multiplier,
            Purchase.points,
            Purchase.rules_version,
        ).where(Purchase.member_id.in_(ids))
    )
    for row in purchase_rows:
        cancelled_at = (row.cancelled_at or row.source_updated_at) if row.cancelled else None
        refund_list = sorted(refunds.get(row.id, []), key=lambda r: (r.processed_at, r.source_id))
        p = PurchaseIn(
            row.source,
            row.source_id,
            row.processed_at,
            row.gross_amount,
            row.earn_rate,
            row.channel,
            cancelled_at,
            tuple(refund_list),
        )
        history = histories[row.member_id]
        history.purchases.append(p)
        history.purchase_ids[p.key] = row.id
        history.terms[p.key] = (row.earn_rank, row.earn_multiplier, row.points, row.rules_version)
    for member_id, move in _load_movements(session, ids):
        histories[member_id].movements.append(move)
    for history in histories.values():
        history.purchases.sort(key=lambda p: (p.processed_at, p.key))
    return histories


def _load_movements(session: Session, ids: list[int]) -> Iterator[tuple[int | None, MovementIn]]:
    """Spends, staff adjustments, reward-code steps and opening balances, with their size from the legs."""
    rows = session.execute(
        select(
            LedgerTransaction.member_id,
            LedgerTransaction.source,
            LedgerTransaction.source_id,
            LedgerTransaction.kind,
            LedgerTransaction.effective_at,
            LedgerTransaction.expires_at,
            LedgerPosting.account,
            LedgerPosting.member_id,
            LedgerPosting.points,
        )
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.member_id.in_(ids), LedgerTransaction.kind.in_(MOVEMENT_KINDS))
        .order_by(LedgerTransaction.id)
    )
    sizes: dict[tuple[int | None, str, str, str], tuple[datetime, datetime | None, int]] = {}
    for member_id, source, source_id, kind, at, expires_at, account, leg_member, points in rows:
        key = (member_id, source, source_id, kind)
        size = sizes.get(key, (at, expires_at, 0))[2]
        if _is_size_leg(kind, account, leg_member is not None):
            size += points if kind in ("opening", "adjust", "hold") else -points
        sizes[key] = (at, expires_at, size)
    for (member_id, source, source_id, kind), (at, expires_at, size) in sizes.items():
        yield member_id, MovementIn(source, source_id, kind, at, size, expires_at)


def _is_size_leg(kind: str, account: str, mine: bool) -> bool:
    """The leg that says a movement's size: available for spends/grants, held for holds and releases."""
    if kind in ("hold", "capture", "release"):
        return account == "held" and mine
    return account == "available" and mine


def _frozen_terms(history: _History, version: int) -> dict[str, tuple[str, Decimal]]:
    """Purchases whose terms were worked out under earlier rules keep the rank terms they earned with."""
    return {
        key: (rank, multiplier)
        for key, (rank, multiplier, _points, worked_under) in history.terms.items()
        if rank is not None and worked_under < version
    }


def _purchase_updates(
    history: _History, outcome: Outcome, frozen: dict[str, tuple[str, Decimal]], version: int, now: datetime
) -> list[dict[str, object]]:
    """Purchases whose earning terms changed (the rank before them, their multiplier, their points)."""
    updates = []
    for key, terms in outcome.terms.items():
        worked_under = history.terms[key][3] if key in frozen else version
        if history.terms.get(key) != (terms.rank, terms.multiplier, terms.points, worked_under):
            updates.append(
                {
                    "id": history.purchase_ids[key],
                    "earn_rank": terms.rank,
                    "earn_multiplier": terms.multiplier,
                    "points": terms.points,
                    "rules_version": worked_under,
                    "updated_at": now,
                }
            )
    return updates


def _update_member(
    member: Member, history: _History, outcome: Outcome, rules: ShopRules, tz: str, now: datetime
) -> bool:
    """Balances, flag, rank and next due instant onto the member row; True if anything a reader sees moved."""
    facts = [p.fact() for p in history.purchases]
    floor = rank_floor(member)
    values = {
        "points_pending": outcome.balances["pending"],
        "points_available": outcome.balances["available"],
        "points_held": outcome.balances["held"],
        "points_debt": outcome.debt,
        "points_flag": outcome.flag,
        "last_earning_at": outcome.last_earning_at,
        "rank": held_now(facts, rules.ranks, rules.points.rate, now, tz, floor).handle,
    }
    seen = any(getattr(member, name) != value for name, value in values.items())
    for name, value in values.items():
        setattr(member, name, value)
    member.rank_evaluated_at = now
    upcoming = [outcome.next_due_at, next_rank_instant(facts, rules.ranks, now, tz, floor)]
    member.next_due_at = min((t for t in upcoming if t is not None), default=None)
    return seen
