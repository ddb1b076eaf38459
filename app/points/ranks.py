"""Rank use cases: evaluate a member, staff rank floors, month-end snapshots, and rule-change previews."""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.history import PurchaseFact
from app.domain.ranks import EPSILON, MemberRankInput, RankPreview, held_now, metric, preview
from app.domain.settings import RankRules, ShopRules
from app.members.records import lock_member, member_facts, rank_floor, touch
from app.models.member import Member, MemberStatus
from app.models.rank import RankSnapshot
from app.models.shop import Shop
from app.models.types import utcnow
from app.shops.rules import load_rules


def evaluate_member(
    session: Session,
    shop: Shop,
    member: Member,
    now: datetime,
    rules: ShopRules | None = None,
    facts: list[PurchaseFact] | None = None,
) -> bool:
    """Set the member's rank from history and rules; True if it changed (evaluating twice is a no-op)."""
    rules = rules or load_rules(shop)
    facts = member_facts(session, member) if facts is None else facts
    tier = held_now(facts, rules.ranks, rules.points.rate, now, shop.timezone, rank_floor(member))
    member.rank_evaluated_at = now
    if tier.handle == member.rank:
        return False
    member.rank = tier.handle
    touch(member, now)
    return True


def set_rank_floor(
    session: Session,
    shop: Shop,
    member: Member,
    handle: str | None,
    expires_at: datetime | None,
    now: datetime | None = None,
) -> None:
    """Staff keep a member at least at `handle` until `expires_at` (None handle removes the floor)."""
    now = now or utcnow()
    rules = load_rules(shop)
    if handle is not None:
        rules.ranks.tier(handle)  # KeyError for a tier the shop does not have
        if expires_at is not None and expires_at <= now:
            raise ValueError("a rank floor must expire in the future")
    member = lock_member(session, member.id)  # a rank is written under the member lock, like points
    member.rank_floor = handle
    member.rank_floor_starts_at = now if handle else None
    member.rank_floor_expires_at = expires_at if handle else None
    evaluate_member(session, shop, member, now, rules)
    touch(member, now)


def month_end(period: date, tz: str) -> datetime:
    """The last instant of the month containing `period`, in the shop's time zone."""
    last = calendar.monthrange(period.year, period.month)[1]
    start_next = datetime(period.year, period.month, last, tzinfo=ZoneInfo(tz)) + timedelta(days=1)
    return start_next - EPSILON


def snapshot_month_end(session: Session, shop: Shop, period: date) -> int:
    """Record every active member's rank at the end of `period`'s month (idempotent); returns rows written."""
    rules = load_rules(shop)
    end = month_end(period, shop.timezone)
    key = f"{period.year:04d}-{period.month:02d}"
    done = set(
        session.scalars(
            select(RankSnapshot.member_id).where(RankSnapshot.shop_id == shop.id, RankSnapshot.period == key)
        )
    )
    written = 0
    for member in session.scalars(
        select(Member).where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
    ):
        if member.id in done:
            continue
        facts = member_facts(session, member)
        tier = held_now(facts, rules.ranks, rules.points.rate, end, shop.timezone, rank_floor(member))
        value = metric(facts, rules.ranks, rules.points.rate, end + EPSILON, shop.timezone)
        session.add(
            RankSnapshot(shop_id=shop.id, member_id=member.id, period=key, rank=tier.handle, metric=value)
        )
        written += 1
    session.flush()
    return written


PREVIEW_PAGE = 500


def preview_rules(
    session: Session,
    shop: Shop,
    ranks: RankRules,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RankPreview:
    """How many members would move under new tier rules (nothing saved; ranks move at next evaluation).

    Members are read a page at a time by id, and `progress(done, total)` is called after each page: the
    worker runs this for the whole shop and may commit its progress in between (a page is re-read after)."""
    now = now or utcnow()
    rate = load_rules(shop).points.rate
    active = (Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
    total = session.scalar(select(func.count()).select_from(Member).where(*active)) or 0
    moves: Counter[tuple[str, str]] = Counter()
    up = down = same = done = last_id = 0
    while True:
        page = session.scalars(
            select(Member).where(*active, Member.id > last_id).order_by(Member.id).limit(PREVIEW_PAGE)
        ).all()
        if not page:
            break
        last_id = page[-1].id
        inputs = [MemberRankInput(m.id, m.rank, member_facts(session, m), rank_floor(m)) for m in page]
        part = preview(inputs, ranks, rate, now, shop.timezone)
        up, down, same = up + part.up, down + part.down, same + part.unchanged
        moves.update(part.moves)
        done += len(page)
        if progress is not None:
            progress(done, max(total, done))
    return RankPreview(up=up, down=down, unchanged=same, moves=dict(moves))
