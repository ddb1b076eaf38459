"""The analytics figures as set-based SQL over the shop's purchases (PostgreSQL, and SQLite for the demo).

A purchase counts when it is not cancelled and not fully refunded (net = gross - refunds > 0), like the
member aggregates (app/domain/history.py). Only active members count. Every query starts from `counted`:
the shop's counted purchases numbered per member by time (window functions), so a member's first and second
purchase and first channel come from one sort, and the database returns only grouped rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.analytics.rfm import FREQUENCY, RECENCY
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase, PurchaseRefund
from app.models.shop import Shop

STORE = ("pos", "external_pos")
ONLINE = ("online", "app")
F2_WINDOWS = (30, 60, 90)
RETENTION_MONTHS = 12


class Sql:
    """Dialect-specific date arithmetic in the shop's time zone.

    PostgreSQL converts exactly; SQLite shifts by the zone's offset at `now`, which is exact for zones
    without daylight saving (Asia/Tokyo) and off by an hour around a DST change elsewhere.
    """

    def __init__(self, session: Session, tz: str, now: datetime) -> None:
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.tz = tz
        local = now.astimezone(ZoneInfo(tz))
        self.offset = f"{int(local.utcoffset().total_seconds() // 60):+d} minutes"  # type: ignore[union-attr]
        self.today: date = local.date()

    def days_between(self, earlier: Any, later: Any) -> ColumnElement[Any]:
        """Exact elapsed days (fractional) from `earlier` to `later`."""
        if self.postgres:
            return func.extract("epoch", later - earlier) / 86400.0
        return func.julianday(later) - func.julianday(earlier)

    def days_ago(self, column: Any) -> ColumnElement[Any]:
        """Whole local calendar days from the timestamp's day to today (0 = today)."""
        if self.postgres:
            return literal(self.today, Date) - cast(func.timezone(self.tz, column), Date)
        return cast(
            func.julianday(self.today.isoformat()) - func.julianday(func.date(column, self.offset)), Integer
        )

    def month_index(self, column: Any) -> ColumnElement[Any]:
        """year * 12 + month - 1 of the timestamp's local month: month differences are subtractions."""
        if self.postgres:
            local = func.timezone(self.tz, column)
            return cast(func.extract("year", local) * 12 + func.extract("month", local) - 1, Integer)
        year = cast(func.strftime("%Y", column, self.offset), Integer)
        return year * 12 + cast(func.strftime("%m", column, self.offset), Integer) - 1

    def today_month_index(self) -> int:
        return self.today.year * 12 + self.today.month - 1


def counted(shop: Shop, now: datetime) -> Any:
    """Counted purchases of active members with their net amount, number per member (1 = first), and the
    member's first purchase time and channel."""
    refunds = (
        select(PurchaseRefund.purchase_id.label("pid"), func.sum(PurchaseRefund.amount).label("refunded"))
        .where(PurchaseRefund.shop_id == shop.id, PurchaseRefund.purchase_id.is_not(None))
        .group_by(PurchaseRefund.purchase_id)
        .subquery()
    )
    net = Purchase.gross_amount - func.coalesce(refunds.c.refunded, 0)
    order = (Purchase.processed_at, Purchase.id)
    return (
        select(
            Purchase.member_id.label("member_id"),
            Purchase.channel.label("channel"),
            Purchase.processed_at.label("at"),
            net.label("net"),
            func.row_number().over(partition_by=Purchase.member_id, order_by=order).label("n"),
            func.min(Purchase.processed_at).over(partition_by=Purchase.member_id).label("first_at"),
            func.first_value(Purchase.channel)
            .over(partition_by=Purchase.member_id, order_by=order)
            .label("first_channel"),
        )
        .join(Member, Member.id == Purchase.member_id)
        .outerjoin(refunds, refunds.c.pid == Purchase.id)
        .where(Purchase.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
        .where(Purchase.cancelled.is_(False), Purchase.processed_at <= now, net > 0)
        .subquery("counted")
    )


def per_member(shop: Shop, now: datetime) -> Any:
    """One row per buying member: first and second purchase time, first channel, last purchase, counted
    purchases, lifetime net spend, and whether any purchase was in a store / online."""
    c = counted(shop, now)
    return (
        select(
            c.c.member_id,
            func.min(c.c.first_at).label("first_at"),
            func.max(c.c.first_channel).label("first_channel"),
            func.min(case((c.c.n == 2, c.c.at))).label("second_at"),
            func.max(c.c.at).label("last_at"),
            func.count().label("purchases"),
            func.sum(c.c.net).label("lifetime"),
            func.max(case((c.c.channel.in_(STORE), 1), else_=0)).label("store"),
            func.max(case((c.c.channel.in_(ONLINE), 1), else_=0)).label("online"),
        )
        .group_by(c.c.member_id)
        .subquery("per_member")
    )


def f2_rows(session: Session, shop: Shop, now: datetime, sql: Sql) -> list[Any]:
    """Per first channel: buyers, then for each window N the members whose first purchase is at least N
    days old (eligible) and those of them with a second purchase within N days of the first (converted)."""
    pm = per_member(shop, now)
    columns: list[Any] = [pm.c.first_channel, func.count()]
    for days in F2_WINDOWS:
        eligible = pm.c.first_at <= now - timedelta(days=days)
        within = and_(pm.c.second_at.is_not(None), sql.days_between(pm.c.first_at, pm.c.second_at) <= days)
        columns.append(func.sum(case((eligible, 1), else_=0)))
        columns.append(func.sum(case((and_(eligible, within), 1), else_=0)))
    return list(session.execute(select(*columns).group_by(pm.c.first_channel)).all())


def _bucket(value: Any, bounds: tuple[tuple[int, int | None], ...]) -> Any:
    whens = [(value <= high, literal(i)) for i, (_, high) in enumerate(bounds) if high is not None]
    return case(*whens, else_=literal(len(bounds) - 1))


def rfm_rows(session: Session, shop: Shop, now: datetime, sql: Sql) -> list[Any]:
    """(recency bucket, frequency bucket, members, lifetime net spend) per non-empty grid cell."""
    pm = per_member(shop, now)
    recency = _bucket(sql.days_ago(pm.c.last_at), RECENCY).label("r")
    frequency = _bucket(pm.c.purchases, FREQUENCY).label("f")
    return list(
        session.execute(
            select(recency, frequency, func.count(), func.sum(pm.c.lifetime)).group_by(recency, frequency)
        ).all()
    )


def ltv_rows(session: Session, shop: Shop, now: datetime) -> list[Any]:
    """(channel mix, members, lifetime net total, median lifetime net) per mix: the median is the middle
    row (or the mean of the two middle rows) of each mix ordered by lifetime spend."""
    pm = per_member(shop, now)
    mix = case(
        (and_(pm.c.store == 1, pm.c.online == 1), literal("omni")),
        (pm.c.store == 1, literal("store_only")),
        (pm.c.online == 1, literal("online_only")),
        else_=literal("none"),
    )
    ranked = select(
        mix.label("mix"),
        pm.c.lifetime.label("v"),
        func.row_number().over(partition_by=mix, order_by=pm.c.lifetime).label("rn"),
        func.count().over(partition_by=mix).label("cnt"),
    ).subquery("ranked")
    middle = ranked.c.rn.in_(((ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2))
    return list(
        session.execute(
            select(
                ranked.c.mix,
                func.count(),
                func.sum(ranked.c.v),
                func.avg(case((middle, ranked.c.v))),
            ).group_by(ranked.c.mix)
        ).all()
    )


def cohort_rows(session: Session, shop: Shop, now: datetime, sql: Sql, months: int) -> list[Any]:
    """(first channel, first-purchase month index, months since, members buying that month) for the cohorts
    of the last `months` months; month 0 is the cohort's size."""
    c = counted(shop, now)
    cohort = sql.month_index(c.c.first_at)
    since = (sql.month_index(c.c.at) - cohort).label("since")
    first = sql.today_month_index() - months + 1
    return list(
        session.execute(
            select(c.c.first_channel, cohort.label("cohort"), since, func.count(func.distinct(c.c.member_id)))
            .where(cohort >= first, since <= RETENTION_MONTHS)
            .group_by(c.c.first_channel, cohort, since)
        ).all()
    )
