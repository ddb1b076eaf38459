"""Time-driven upkeep per member: pending points mature, lots expire, rolling ranks move as sales age out."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.members.records import lock_member, touch
from app.models.member import Member, MemberStatus
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow
from app.points import ledger
from app.points.ranks import evaluate_member
from app.shops.rules import load_rules


def refresh_member(session: Session, shop: Shop, member_id: int, now: datetime | None = None) -> bool:
    """Mature, expire and re-evaluate one member at `now`; True if anything changed (then marked for sync)."""
    now = now or utcnow()
    rules = load_rules(shop)
    member = lock_member(session, member_id)
    if member.status != MemberStatus.ACTIVE:
        return False
    changed = ledger.mature_due(session, member, now)
    changed = ledger.expire_due(session, member, rules.points, now) or changed
    changed = evaluate_member(session, shop, member, now, rules) or changed
    if changed:
        touch(member, now)
    session.flush()
    return changed


def refresh_shop(session: Session, shop: Shop, now: datetime | None = None) -> int:
    """The daily job for one shop: refresh every active member; returns how many changed."""
    now = now or utcnow()
    ids = list(
        session.scalars(
            select(Member.id).where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
        )
    )
    return sum(1 for member_id in ids if refresh_member(session, shop, member_id, now))


UPKEEP_LEASE = "upkeep"
BATCH = 200


def _next_local_midnight(shop: Shop, now: datetime) -> datetime:
    """The start of the shop's next local day (points mature and expire by the shop's calendar)."""
    zone = ZoneInfo(shop.timezone or "UTC")
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone)
    return midnight.astimezone(UTC)


def run_daily_upkeep(now: datetime | None = None) -> dict[str, int]:
    """The worker loop's hook: each installed shop's daily upkeep, once per local day across all workers.

    The "upkeep" lease is held until the shop's next midnight, so it doubles as the "done today" mark; members
    are committed in batches, so a crash loses at most one batch, which the next day's run catches up on
    (maturing and expiry are idempotent at any later instant).
    """
    from app.extensions import db
    from app.jobs.leases import acquire, new_holder_id

    now = now or utcnow()
    session = db.session
    changed: dict[str, int] = {}
    for shop in session.scalars(
        select(Shop).where(Shop.status == ShopStatus.INSTALLED).order_by(Shop.id)
    ).all():
        ttl = _next_local_midnight(shop, now) - now
        if not acquire(session, shop.id, UPKEEP_LEASE, new_holder_id("upkeep"), ttl, now):
            continue
        ids = list(
            session.scalars(
                select(Member.id).where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
            )
        )
        count = 0
        for start in range(0, len(ids), BATCH):
            count += sum(
                1 for member_id in ids[start : start + BATCH] if refresh_member(session, shop, member_id, now)
            )
            session.commit()
        changed[shop.domain] = count
    return changed
