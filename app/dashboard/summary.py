"""Home KPIs from a materialised summary, plus live sync-health counters.

Why materialised: LTV by rank and 12 months of spend by channel mix need every purchase (1,000,000 rows for a
large shop), member counts and point balances a pass over 200,000 members: together far beyond a 300 ms page.
The worker computes the summary in the background (app/dashboard/jobs.py) in two set-based queries: one
GROUP BY over the shop's purchases per member folded into (rank, channel mix) groups, one GROUP BY per month
and channel. A page never computes it: the home reads the stored row plus a few indexed reads of the inbox
backlog, dead letters, the API budget and the install backfill's progress, which must be live.

When it is recomputed: when the shop's data changed since the last one (a cheap watermark of counts and
version sums, checked at every worker round), when staff ask for it, and at least every `SUMMARY_MAX_AGE`
(freshness percentiles and the month window move with time alone).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from app.dashboard.health import SyncHealth, backfill_progress, sync_health
from app.models.dashboard import DashboardSummary
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop
from app.models.shop_jobs import BACKFILL_OPEN
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
class Importing:
    """The install backfill still at work: the history so far is partial, so its figures are not facts."""

    done: int
    total: int | None  # None until Shopify has counted the export


@dataclass(frozen=True)
class HomeView:
    """Everything the home page shows; `summary_at` is None until the worker has computed a summary."""

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
    summary_at: datetime | None
    health: SyncHealth
    currency: str
    importing: Importing | None = None
    now: datetime = field(default_factory=utcnow)

    @property
    def points_outstanding(self) -> int:
        """Points the shop owes: spendable, pending (return window) and held for reward codes."""
        return self.points_available + self.points_pending + self.points_held

    @property
    def ready(self) -> bool:
        """Whether the figures are facts: a summary exists and no history import is under way."""
        return self.summary_at is not None and self.importing is None


def home(session: Session, shop: Shop, now: datetime | None = None) -> HomeView:
    """The home page's data for `shop`: the stored summary only (empty until the worker computed one)."""
    now = now or utcnow()
    summary = session.get(DashboardSummary, shop.id)
    data = summary.data if summary is not None else {}
    counts = data.get("members") or {}
    live_ranks: dict[str, int] = counts.get("ranks", {})
    ltv = {row["rank"]: row for row in data.get("ranks", [])}
    handles = [tier.handle for tier in load_rules(shop).ranks.tiers]
    handles += sorted(h for h in set(live_ranks) | set(ltv) if h not in handles)
    ranks = [
        RankRow(
            handle=h,
            members=live_ranks.get(h, 0),
            ltv=Decimal(ltv.get(h, {}).get("ltv", "0")),
            spend_12m=Decimal(ltv.get(h, {}).get("spend_12m", "0")),
        )
        for h in handles
    ]
    mix_counts = {mix: int(data.get("mix_counts", {}).get(mix, 0)) for mix in MIXES}
    buyers = sum(v for k, v in mix_counts.items() if k != "none")
    months = list(data.get("months") or month_keys(now, shop.timezone))
    by_channel = data.get("spend_by_channel", {})
    return HomeView(
        members=int(counts.get("members", 0)),
        linked_members=int(counts.get("linked", 0)),
        mix_counts=mix_counts,
        omni_share=(mix_counts["omni"] / buyers) if buyers else None,
        ranks=ranks,
        points_available=int(counts.get("available", 0)),
        points_pending=int(counts.get("pending", 0)),
        points_held=int(counts.get("held", 0)),
        months=months,
        spend_by_channel={
            g: [Decimal(v) for v in by_channel.get(g, [])] or [Decimal("0")] * len(months)
            for g in CHANNEL_GROUPS
        },
        spend_by_mix={m: Decimal(data.get("spend_by_mix", {}).get(m, "0")) for m in MIXES},
        summary_at=summary.computed_at if summary is not None else None,
        health=sync_health(session, shop, now, freshness=data.get("freshness")),
        currency=shop.currency,
        importing=importing(session, shop, now),
        now=now,
    )


def importing(session: Session, shop: Shop, now: datetime | None = None) -> Importing | None:
    """Progress of the install backfill's open jobs (orders, customers) added up; None when none is open."""
    open_jobs = [p for p in backfill_progress(session, shop, now) if p.status in BACKFILL_OPEN]
    if not open_jobs:
        return None
    totals = [p.total for p in open_jobs]
    total = None if any(t is None for t in totals) else sum(t or 0 for t in totals)
    return Importing(done=sum(p.done for p in open_jobs), total=total)


def refresh_summary(session: Session, shop: Shop, now: datetime | None = None) -> DashboardSummary:
    """Recompute the shop's summary and store it (the caller commits). Segment counts are kept as they
    were: they project every member in Python and are refreshed on their own, less often (jobs.py)."""
    now = now or utcnow()
    started = time.perf_counter()
    data = compute_summary(session, shop, now)
    summary = session.get(DashboardSummary, shop.id)
    if summary is None:
        summary = DashboardSummary(shop_id=shop.id, data={})
        session.add(summary)
    for kept in ("segments", "segments_at"):
        if kept in (summary.data or {}):
            data[kept] = summary.data[kept]
    summary.data = data
    summary.computed_at = now
    summary.duration_ms = int((time.perf_counter() - started) * 1000)
    session.flush()
    return summary


def watermark(session: Session, shop: Shop) -> list[int]:
    """Numbers that move whenever the summary's inputs do: members (count, sum of `sync_version`, which
    every member change bumps), purchases and refunds (count, newest id). A few index or table passes."""
    members = session.execute(
        select(func.count(), func.coalesce(func.sum(Member.sync_version), 0)).where(Member.shop_id == shop.id)
    ).one()
    purchases = session.execute(
        select(func.count(), func.coalesce(func.max(Purchase.id), 0)).where(Purchase.shop_id == shop.id)
    ).one()
    refunds = session.execute(
        select(func.count(), func.coalesce(func.max(PurchaseRefund.id), 0)).where(
            PurchaseRefund.shop_id == shop.id
        )
    ).one()
    return [int(v) for v in (*members, *purchases, *refunds)]


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
    """Member counts, balances, LTV and 12-month spend by rank and by channel mix, spend per month and
    channel, freshness percentiles and the watermark they were computed at."""
    months = month_keys(now, shop.timezone)
    mark = watermark(session, shop)
    groups = _member_groups(session, shop, now)
    ranks: dict[str, list[Any]] = {}
    mixes: dict[str, list[Any]] = {m: [0, Decimal("0")] for m in MIXES}
    counts: dict[str, Any] = {"members": 0, "linked": 0, "available": 0, "pending": 0, "held": 0, "ranks": {}}
    for rank, mix, members, linked, available, pending, held, lifetime, spend in groups:
        row = ranks.setdefault(rank, [0, Decimal("0"), Decimal("0")])
        row[0] += members
        row[1] += Decimal(str(lifetime))
        row[2] += Decimal(str(spend))
        mixes[mix][0] += members
        mixes[mix][1] += Decimal(str(spend))
        counts["members"] += members
        counts["linked"] += linked
        counts["available"] += int(available)
        counts["pending"] += int(pending)
        counts["held"] += int(held)
    counts["ranks"] = {rank: row[0] for rank, row in ranks.items()}
    return {
        "v": 3,
        "watermark": mark,
        "members": counts,
        "freshness": latency_summary(session, shop.id, since=now - timedelta(hours=24)),
        "months": months,
        "ranks": [
            {"rank": rank, "members": n, "ltv": str(_avg(lifetime, n)), "spend_12m": str(_cents(spend))}
            for rank, (n, lifetime, spend) in sorted(ranks.items())
        ],
        "mix_counts": {m: int(c) for m, (c, _) in mixes.items()},
        "spend_by_mix": {m: str(_cents(v)) for m, (_, v) in mixes.items()},
        "spend_by_channel": _monthly_spend_by_channel(session, shop, months, now),
    }


def _cents(amount: Any) -> Decimal:
    return Decimal(str(amount)).quantize(Decimal("0.01"))


def _net_amount(shop: Shop) -> tuple[Any, Any]:
    """(refunds per purchase as a subquery, the net amount of a purchase: refunds off, never below 0)."""
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
    )
    return refunds, net


def _member_groups(session: Session, shop: Shop, now: datetime) -> list[Any]:
    """One row per (rank, channel mix) of the active members: members, linked to Shopify, point balances,
    lifetime and 12-month net spend. One GROUP BY over the purchases per member, joined to the members and
    grouped again: the database does the whole pass, Python only adds up a handful of rows."""
    refunds, net = _net_amount(shop)
    year_ago = now - timedelta(days=365)
    bought = net > 0
    per_member = (
        select(
            Purchase.member_id.label("member_id"),
            func.sum(net).label("lifetime"),
            func.sum(case((Purchase.processed_at > year_ago, net), else_=0)).label("spend_12m"),
            func.max(case((and_(Purchase.channel.in_(STORE), bought), 1), else_=0)).label("store"),
            func.max(case((and_(Purchase.channel.in_(ONLINE), bought), 1), else_=0)).label("online"),
        )
        .outerjoin(refunds, refunds.c.pid == Purchase.id)
        .where(Purchase.shop_id == shop.id, Purchase.processed_at <= now, Purchase.member_id.is_not(None))
        .group_by(Purchase.member_id)
        .subquery()
    )
    mix = case(
        (and_(per_member.c.store == 1, per_member.c.online == 1), literal("omni")),
        (per_member.c.store == 1, literal("store_only")),
        (per_member.c.online == 1, literal("online_only")),
        else_=literal("none"),
    ).label("mix")
    return list(
        session.execute(
            select(
                Member.rank,
                mix,
                func.count(),
                func.count(Member.shopify_customer_id),
                func.coalesce(func.sum(Member.points_available), 0),
                func.coalesce(func.sum(Member.points_pending), 0),
                func.coalesce(func.sum(Member.points_held), 0),
                func.coalesce(func.sum(per_member.c.lifetime), 0),
                func.coalesce(func.sum(per_member.c.spend_12m), 0),
            )
            .select_from(Member)
            .outerjoin(per_member, per_member.c.member_id == Member.id)
            .where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
            .group_by(Member.rank, mix)
        ).all()
    )


def _monthly_spend_by_channel(
    session: Session, shop: Shop, months: list[str], now: datetime
) -> dict[str, list[str]]:
    """Net spend per channel group (online, store, other) for each of `months`, as decimal strings."""
    refunds, net = _net_amount(shop)
    group = case(
        (Purchase.channel.in_(ONLINE), literal("online")),
        (Purchase.channel.in_(STORE), literal("store")),
        else_=literal("other"),
    )
    month = month_expr(Purchase.processed_at, session.get_bind().dialect.name, shop.timezone, now)
    monthly: list[Any] = session.execute(
        select(month.label("m"), group.label("g"), func.sum(cast(net, Float)))
        .outerjoin(refunds, refunds.c.pid == Purchase.id)
        .where(Purchase.shop_id == shop.id, Purchase.processed_at <= now)
        .where(Purchase.processed_at >= _month_start(months[0], shop.timezone))
        .group_by(month, group)
    ).all()  # type: ignore[assignment]  # rows of (month, group, total)
    spend = {g: [Decimal("0")] * len(months) for g in CHANNEL_GROUPS}
    index = {m: i for i, m in enumerate(months)}
    for m, g, total in monthly:
        if m in index:
            spend[g][index[m]] += Decimal(str(round(total or 0, 2)))
    return {g: [str(v) for v in values] for g, values in spend.items()}


def _avg(total: Any, count: int) -> Decimal:
    if not count:
        return Decimal("0")
    return (Decimal(str(total)) / count).quantize(Decimal("1"))
