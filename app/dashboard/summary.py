"""Home KPIs from a materialised summary, plus live sync-health counters.

Why materialised: LTV by rank and 12 months of spend by channel mix need every purchase (1,000,000 rows for a
large shop), member counts and point balances a pass over 200,000 members, freshness percentiles a sort of
the day's samples: together far beyond a 300 ms page. The worker refreshes the summary every 10 minutes
(`refresh_stale_summaries`, staff can refresh it from the page); the home reads that one row plus a few
indexed reads of the inbox backlog, dead letters and the API budget, which must be live.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from app.dashboard.health import SyncHealth, sync_health
from app.models.dashboard import DashboardSummary
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop, ShopStatus
from app.models.types import utcnow
from app.shops.rules import load_rules
from app.sync.freshness import latency_summary

log = logging.getLogger(__name__)

SUMMARY_MAX_AGE = timedelta(minutes=10)
MONTHS = 12
STORE = ("pos", "external_pos")
ONLINE = ("online", "app")
MIXES = ("omni", "store_only", "online_only", "none")
CHANNEL_GROUPS = ("online", "store", "other")


@dataclass(frozen=True)
class RankRow:
    """One rank on the home page: how many members hold it and what they are worth."""

    handle: str
    members: int
    ltv: Decimal  # average lifetime net spend per member of this rank
    spend_12m: Decimal


@dataclass(frozen=True)
class HomeView:
    """Everything the home page shows."""

    members: int
    linked_members: int
    mix_counts: dict[str, int]
    omni_share: float | None  # omni members / members who bought anything
    ranks: list[RankRow]
    points_available: int
    points_pending: int
    points_held: int
    months: list[str]  # "YYYY-MM", oldest first
    spend_by_channel: dict[str, list[Decimal]]  # online | store | other -> per month
    spend_by_mix: dict[str, Decimal]  # 12-month net spend by the member's channel mix
    summary_at: datetime
    health: SyncHealth
    currency: str
    now: datetime = field(default_factory=utcnow)

    @property
    def points_outstanding(self) -> int:
        """Points the shop owes: spendable, pending (return window) and held for reward codes."""
        return self.points_available + self.points_pending + self.points_held


def home(session: Session, shop: Shop, now: datetime | None = None) -> HomeView:
    """The home page's data for `shop` (the summary is computed now if the worker has not yet)."""
    now = now or utcnow()
    summary = session.get(DashboardSummary, shop.id)
    if summary is None:
        summary = refresh_summary(session, shop, now)
    data = summary.data
    live = data.get("members") or _member_counts(session, shop)
    ltv = {row["rank"]: row for row in data.get("ranks", [])}
    handles = [tier.handle for tier in load_rules(shop).ranks.tiers]
    handles += sorted(h for h in set(live["ranks"]) | set(ltv) if h not in handles)
    ranks = [
        RankRow(
            handle=h,
            members=live["ranks"].get(h, 0),
            ltv=Decimal(ltv.get(h, {}).get("ltv", "0")),
            spend_12m=Decimal(ltv.get(h, {}).get("spend_12m", "0")),
        )
        for h in handles
    ]
    mix_counts = {mix: int(data.get("mix_counts", {}).get(mix, 0)) for mix in MIXES}
    buyers = sum(v for k, v in mix_counts.items() if k != "none")
    return HomeView(
        members=live["members"],
        linked_members=live["linked"],
        mix_counts=mix_counts,
        omni_share=(mix_counts["omni"] / buyers) if buyers else None,
        ranks=ranks,
        points_available=live["available"],
        points_pending=live["pending"],
        points_held=live["held"],
        months=list(data.get("months", [])),
        spend_by_channel={
            g: [Decimal(v) for v in data.get("spend_by_channel", {}).get(g, [])] for g in CHANNEL_GROUPS
        },
        spend_by_mix={m: Decimal(data.get("spend_by_mix", {}).get(m, "0")) for m in MIXES},
        summary_at=summary.computed_at,
        health=sync_health(session, shop, now, freshness=data.get("freshness")),
        currency=shop.currency,
        now=now,
    )


def _member_counts(session: Session, shop: Shop) -> dict[str, Any]:
    """Counts and point balances by rank: one pass over the shop's active members (part of the summary)."""
    rows = session.execute(
        select(
            Member.rank,
            func.count(),
            func.count(Member.shopify_customer_id),
            func.coalesce(func.sum(Member.points_available), 0),
            func.coalesce(func.sum(Member.points_pending), 0),
            func.coalesce(func.sum(Member.points_held), 0),
        )
        .where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
        .group_by(Member.rank)
    ).all()
    return {
        "members": sum(r[1] for r in rows),
        "linked": sum(r[2] for r in rows),
        "available": int(sum(r[3] for r in rows)),
        "pending": int(sum(r[4] for r in rows)),
        "held": int(sum(r[5] for r in rows)),
        "ranks": {r[0]: int(r[1]) for r in rows},
    }


def refresh_summary(session: Session, shop: Shop, now: datetime | None = None) -> DashboardSummary:
    """Recompute the shop's purchase aggregates and store them (the caller commits)."""
    now = now or utcnow()
    started = time.perf_counter()
    data = compute_summary(session, shop, now)
    summary = session.get(DashboardSummary, shop.id)
    if summary is None:
        summary = DashboardSummary(shop_id=shop.id)
        session.add(summary)
    summary.data = data
    summary.computed_at = now
    summary.duration_ms = int((time.perf_counter() - started) * 1000)
    session.flush()
    return summary


def refresh_stale_summaries(
    session: Session, now: datetime | None = None, max_age: timedelta = SUMMARY_MAX_AGE
) -> int:
    """Worker job: refresh every installed shop's summary older than `max_age`; commits per shop."""
    now = now or utcnow()
    stale = session.scalars(
        select(Shop)
        .outerjoin(DashboardSummary, DashboardSummary.shop_id == Shop.id)
        .where(Shop.status == ShopStatus.INSTALLED)
        .where(or_(DashboardSummary.computed_at.is_(None), DashboardSummary.computed_at < now - max_age))
        .order_by(Shop.id)
    ).all()
    for shop in stale:
        summary = refresh_summary(session, shop, now)
        session.commit()
        log.info("dashboard summary shop=%d refreshed in %d ms", shop.id, summary.duration_ms)
    return len(stale)


def month_keys(now: datetime, tz: str, months: int = MONTHS) -> list[str]:
    """The last `months` calendar months in the shop's time zone, oldest first, ending with this one."""
    local = now.astimezone(ZoneInfo(tz)).date().replace(day=1)
    keys = []
    for _ in range(months):
        keys.append(f"{local:%Y-%m}")
        local = (local - timedelta(days=1)).replace(day=1)
    return keys[::-1]


def _month_start(key: str, tz: str) -> datetime:
    year, month = (int(x) for x in key.split("-"))
    return datetime(year, month, 1, tzinfo=ZoneInfo(tz))


def month_expr(column, dialect: str, tz: str, now: datetime):
    """SQL for "YYYY-MM" of a UTC timestamp in the shop's time zone.

    PostgreSQL converts exactly; SQLite (demo, tests) shifts by the zone's current offset, which is exact for
    zones without daylight saving (Asia/Tokyo) and off by an hour around DST changes elsewhere.
    """
    if dialect == "postgresql":
        return func.to_char(func.timezone(tz, column), "YYYY-MM")
    local = now.astimezone(ZoneInfo(tz))
    offset = int(local.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]  # aware: has an offset
    return func.strftime("%Y-%m", column, f"{offset:+d} minutes")


def compute_summary(session: Session, shop: Shop, now: datetime) -> dict[str, Any]:
    """LTV and 12-month spend by rank, member counts and spend by channel mix, spend per month and channel."""
    months = month_keys(now, shop.timezone)
    per_purchase = _net_purchases(shop, now)
    per_member = _member_totals(per_purchase, year_ago=now - timedelta(days=365))
    by_rank = _totals_by_rank(session, shop, per_member)
    by_mix = _totals_by_mix(session, shop, per_member)
    return {
        "v": 2,
        "members": _member_counts(session, shop),
        "segments": _segment_counts(session, shop, now),
        "freshness": latency_summary(session, shop.id, since=now - timedelta(hours=24)),
        "months": months,
        "ranks": [
            {
                "rank": rank,
                "members": int(count),
                "ltv": str(_avg(lifetime, count)),
                "spend_12m": str(_cents(spend)),
            }
            for rank, count, lifetime, spend in by_rank
        ],
        "mix_counts": {m: int(c) for m, c, _ in by_mix},
        "spend_by_mix": {m: str(_cents(s)) for m, _, s in by_mix},
        "spend_by_channel": _monthly_spend_by_channel(session, shop, per_purchase, months, now),
    }


def _cents(amount: Any) -> Decimal:
    return Decimal(str(amount)).quantize(Decimal("0.01"))


def _net_purchases(shop: Shop, now: datetime) -> Any:
    """A CTE of the shop's purchases so far: member, time, channel and net amount (refunds off, never < 0)."""
    refunds = (
        select(PurchaseRefund.purchase_id.label("pid"), func.sum(PurchaseRefund.amount).label("refunded"))
        .where(PurchaseRefund.shop_id == shop.id, PurchaseRefund.purchase_id.is_not(None))
        .group_by(PurchaseRefund.purchase_id)
        .subquery()
    )
    gross_less = Purchase.gross_amount - func.coalesce(refunds.c.refunded, 0)
    net = case(
        (Purchase.cancelled.is_(True), literal(0)),
        (gross_less > 0, gross_less),
        else_=literal(0),
    ).label("net")
    return (
        select(
            Purchase.member_id.label("member_id"),
            Purchase.processed_at.label("at"),
            Purchase.channel.label("channel"),
            net,
        )
        .outerjoin(refunds, refunds.c.pid == Purchase.id)
        .where(Purchase.shop_id == shop.id, Purchase.processed_at <= now)
        .cte("pp")
    )


def _member_totals(per_purchase: Any, year_ago: datetime) -> Any:
    """A CTE per member: lifetime and 12-month net spend, and whether they bought in store and online."""
    store_hit = case((and_(per_purchase.c.channel.in_(STORE), per_purchase.c.net > 0), 1), else_=0)
    online_hit = case((and_(per_purchase.c.channel.in_(ONLINE), per_purchase.c.net > 0), 1), else_=0)
    return (
        select(
            per_purchase.c.member_id.label("member_id"),
            func.sum(per_purchase.c.net).label("lifetime"),
            func.sum(case((per_purchase.c.at > year_ago, per_purchase.c.net), else_=0)).label("spend_12m"),
            func.max(store_hit).label("store"),
            func.max(online_hit).label("online"),
        )
        .group_by(per_purchase.c.member_id)
        .cte("pm")
    )


def _totals_by_rank(session: Session, shop: Shop, per_member: Any) -> list[Any]:
    """(rank, active members, their lifetime spend, their 12-month spend) per rank."""
    return list(
        session.execute(
            select(
                Member.rank,
                func.count(),
                func.coalesce(func.sum(per_member.c.lifetime), 0),
                func.coalesce(func.sum(per_member.c.spend_12m), 0),
            )
            .select_from(Member)
            .outerjoin(per_member, per_member.c.member_id == Member.id)
            .where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
            .group_by(Member.rank)
        ).all()
    )


def _totals_by_mix(session: Session, shop: Shop, per_member: Any) -> list[Any]:
    """(channel mix, active members, their 12-month spend) per mix; members who never bought are `none`."""
    mix = case(
        (and_(per_member.c.store == 1, per_member.c.online == 1), literal("omni")),
        (per_member.c.store == 1, literal("store_only")),
        (per_member.c.online == 1, literal("online_only")),
        else_=literal("none"),
    )
    member_mix = case((per_member.c.member_id.is_(None), literal("none")), else_=mix)
    return list(
        session.execute(
            select(member_mix.label("mix"), func.count(), func.coalesce(func.sum(per_member.c.spend_12m), 0))
            .select_from(Member)
            .outerjoin(per_member, per_member.c.member_id == Member.id)
            .where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
            .group_by(member_mix)
        ).all()
    )


def _monthly_spend_by_channel(
    session: Session, shop: Shop, per_purchase: Any, months: list[str], now: datetime
) -> dict[str, list[str]]:
    """Net spend per channel group (online, store, other) for each of `months`, as decimal strings."""
    group = case(
        (per_purchase.c.channel.in_(ONLINE), literal("online")),
        (per_purchase.c.channel.in_(STORE), literal("store")),
        else_=literal("other"),
    )
    month = month_expr(per_purchase.c.at, session.get_bind().dialect.name, shop.timezone, now)
    monthly: list[Any] = session.execute(
        select(month.label("m"), group.label("g"), func.sum(cast(per_purchase.c.net, Float)))
        .where(per_purchase.c.at >= _month_start(months[0], shop.timezone))
        .group_by(month, group)
    ).all()  # type: ignore[assignment]  # rows of (month, group, total)
    spend = {g: [Decimal("0")] * len(months) for g in CHANNEL_GROUPS}
    index = {m: i for i, m in enumerate(months)}
    for m, g, total in monthly:
        if m in index:
            spend[g][index[m]] += Decimal(str(round(total or 0, 2)))
    return {g: [str(v) for v in values] for g, values in spend.items()}


def _segment_counts(session: Session, shop: Shop, now: datetime) -> dict[str, int]:
    """Members per segment from the app's own data (a projection of every member: too slow for a page)."""
    from app.models.sync_state import ShopSegment
    from app.sync.segment_templates import SegmentDefinitionError
    from app.sync.segments import app_counts

    # app_counts projects every member whatever the number of segments: skip it when there are none.
    if session.scalar(select(ShopSegment.id).where(ShopSegment.shop_id == shop.id).limit(1)) is None:
        return {}
    try:
        return app_counts(session, shop, now)
    except SegmentDefinitionError:  # a stored definition the app can no longer read: shown as unknown
        log.warning("segment counts for shop %d skipped: unreadable definition", shop.id)
        return {}


def _avg(total: Any, count: int) -> Decimal:
    if not count:
        return Decimal("0")
    return (Decimal(str(total)) / count).quantize(Decimal("1"))
