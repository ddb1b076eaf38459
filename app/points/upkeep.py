"""Time-driven upkeep per member: pending points mature, lots expire, rolling ranks move as sales age out."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models.member import Member, MemberStatus
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow
from app.points.campaigns import members_due
from app.points.engine import rebuild_members
from app.shops.rules import load_rules


def refresh_member(session: Session, shop: Shop, member_id: int, now: datetime | None = None) -> bool:
    """Replay one member up to `now` (maturing, expiry, rank); True if anything changed (marked for sync)."""
    return member_id in rebuild_members(session, shop, [member_id], now or utcnow())


def _due_members(session: Session, shop: Shop, now: datetime) -> list[int]:
    """Active members whose next maturity, expiry, rank change or campaign occasion has come (or who were
    never replayed)."""
    due = or_(Member.next_due_at.is_(None), Member.next_due_at <= now)
    stmt = select(Member.id).where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE, due)
    return sorted(set(session.scalars(stmt)) | members_due(session, shop, now))


def refresh_shop(session: Session, shop: Shop, now: datetime | None = None) -> int:
    """The daily job for one shop: replay every member that is due; returns how many changed."""
    now = now or utcnow()
    return len(rebuild_members(session, shop, _due_members(session, shop, now), now))


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
    (a replay posts each maturity and expiry at its own instant, whenever it runs). Only members whose next
    due instant has come are replayed.
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
        ids = _due_members(session, shop, now)
        count = 0
        rules = load_rules(shop)
        for start in range(0, len(ids), BATCH):
            count += len(rebuild_members(session, shop, ids[start : start + BATCH], now, rules=rules))
            session.commit()
        changed[shop.domain] = count
    return changed
