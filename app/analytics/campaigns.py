"""Campaigns against their holdout: what a campaign's reward added to sales, measured against the members it
kept out on purpose.

Groups. Of a started campaign (active or stopped), members with a granted award are treated, members with a
holdout award the comparison group; the split is a hash of campaign and member (app/domain/campaigns.py
`in_holdout`), so it is random and a member never changes side. A member counts once, from their first
occasion in the campaign (their start); members whose start is not after `now` count.

Outcome. A member's net sales over purchases processed in (start, start + WINDOW], WINDOW = 60 days: gross
minus the refunds processed by the window's end, a cancelled purchase 0. The purchase of the member's first
occasion is left out (matched on its purchase key "<source>:<source id>"), so a purchase-tied bonus is judged
by what it led to, not by the sale that earned it. Conversion: the share of members with at least one such
purchase worth more than 0. A window still open counts what it holds so far, alike in both groups; the page
says for how many members it is still open.

Effect. Difference of the mean outcome (treated - holdout) with a 95 % confidence interval from Welch's
standard error se = sqrt(s1²/n1 + s2²/n2) (sample variances, n - 1) and the normal quantile z = 1.96, a
large-sample interval. With fewer than 2 members in a group there is no estimate. Incremental sales =
difference x treated members (its interval scaled the same). Points cost = the campaign's points net of
reversals on member accounts (pending + available legs of ledger entries whose source is "campaign"); codes =
awards whose code became active or was used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Interval, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.purchase import Purchase, PurchaseRefund
from app.models.rewards import AwardStatus, Campaign, CampaignAward, CampaignStatus
from app.models.shop import Shop

WINDOW = timedelta(days=60)
Z95 = 1.96
MIN_GROUP = 2  # a sample variance needs two members
GROUPS = (AwardStatus.GRANTED, AwardStatus.HOLDOUT)
MEMBER_ACCOUNTS = ("pending", "available")
CODES_ISSUED = ("active", "used")


@dataclass(frozen=True, slots=True)
class Group:
    """One side of the comparison: members, their mean outcome and its sample variance, converted members."""

    members: int = 0
    mean: float | None = None
    variance: float | None = None  # None below two members
    converted: int = 0

    @property
    def conversion(self) -> float | None:
        return self.converted / self.members if self.members else None


@dataclass(frozen=True, slots=True)
class Effect:
    """A campaign's effect on sales against its holdout (money in the shop currency)."""

    campaign_id: int
    name: str
    kind: str
    reward: str
    treated: Group
    holdout: Group
    open_windows: int  # members whose window ends after `now`
    points_cost: int
    codes: int

    @property
    def enough(self) -> bool:
        return self.treated.members >= MIN_GROUP and self.holdout.members >= MIN_GROUP

    @property
    def difference(self) -> float | None:
        if not self.enough:
            return None
        return (self.treated.mean or 0.0) - (self.holdout.mean or 0.0)

    @property
    def margin(self) -> float | None:
        """Half the width of the 95 % interval: z x Welch's standard error."""
        if not self.enough:
            return None
        t, h = self.treated, self.holdout
        return Z95 * math.sqrt((t.variance or 0.0) / t.members + (h.variance or 0.0) / h.members)

    @property
    def low(self) -> float | None:
        return None if self.difference is None or self.margin is None else self.difference - self.margin

    @property
    def high(self) -> float | None:
        return None if self.difference is None or self.margin is None else self.difference + self.margin

    def _scaled(self, value: float | None) -> float | None:
        return None if value is None else value * self.treated.members

    @property
    def incremental(self) -> float | None:
        return self._scaled(self.difference)

    @property
    def incremental_low(self) -> float | None:
        return self._scaled(self.low)

    @property
    def incremental_high(self) -> float | None:
        return self._scaled(self.high)

    @property
    def per_point(self) -> float | None:
        """Incremental sales per point spent (none without points or without an estimate)."""
        if self.incremental is None or self.points_cost <= 0:
            return None
        return self.incremental / self.points_cost


def to_json(effect: Effect) -> dict[str, Any]:
    """The stored form (the analytics snapshot keeps the inputs; the figures derive from them)."""
    groups = {name: _group_json(getattr(effect, name)) for name in ("treated", "holdout")}
    return {
        "id": effect.campaign_id,
        "name": effect.name,
        "kind": effect.kind,
        "reward": effect.reward,
        **groups,
        "open": effect.open_windows,
        "points": effect.points_cost,
        "codes": effect.codes,
    }


def from_json(data: dict[str, Any]) -> Effect:
    return Effect(
        campaign_id=int(data["id"]),
        name=str(data["name"]),
        kind=str(data["kind"]),
        reward=str(data["reward"]),
        treated=Group(**data["treated"]),
        holdout=Group(**data["holdout"]),
        open_windows=int(data["open"]),
        points_cost=int(data["points"]),
        codes=int(data["codes"]),
    )


def _group_json(group: Group) -> dict[str, Any]:
    return {
        "members": group.members,
        "mean": group.mean,
        "variance": group.variance,
        "converted": group.converted,
    }


def started(session: Session, shop: Shop) -> list[Campaign]:
    """The shop's campaigns that have started, newest first."""
    return list(
        session.scalars(
            select(Campaign)
            .where(
                Campaign.shop_id == shop.id,
                Campaign.status.in_((CampaignStatus.ACTIVE, CampaignStatus.STOPPED)),
            )
            .order_by(Campaign.starts_at.desc(), Campaign.id.desc())
        )
    )


def campaign_effects(session: Session, shop: Shop, now: datetime) -> list[Effect]:
    """The effect of every started campaign of the shop (four statements each)."""
    return [campaign_effect(session, shop, campaign, now) for campaign in started(session, shop)]


def campaign_effect(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> Effect:
    """One campaign's effect as of `now` (its own page calls this; the analytics page reads the snapshot)."""
    groups = {True: Group(), False: Group()}
    open_windows = 0
    stats: list[Any] = list(session.execute(_group_stats(session, shop, campaign, now)).all())
    for treated, count, mean, squares, converted, still_open in stats:
        n = int(count)
        variance = float(squares or 0) / (n - 1) if n >= MIN_GROUP else None
        groups[bool(treated)] = Group(n, float(mean or 0), variance, int(converted or 0))
        open_windows += int(still_open or 0)
    return Effect(
        campaign_id=campaign.id,
        name=campaign.name,
        kind=campaign.kind,
        reward=campaign.reward,
        treated=groups[True],
        holdout=groups[False],
        open_windows=open_windows,
        points_cost=_points_cost(session, shop, campaign),
        codes=_codes(session, campaign),
    )


def _sqlite_time(value: Any) -> Any:
    """SQLite keeps timestamps as text: compare them in one fixed format (milliseconds)."""
    return func.strftime("%Y-%m-%d %H:%M:%f", value)


def _group_stats(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> Any:
    """Per group: members, mean outcome, sum of squared deviations from the group mean (two passes, so the
    variance does not suffer from cancellation), converted members, members whose window is still open.

    One pass over the campaign's awards picks each member's first occasion (start, its purchase key, the
    group); each member's purchases are then reached through the (member, processed_at) index and grouped
    once per member, so the work grows with the campaign's members and their purchases in the window."""
    postgres = session.get_bind().dialect.name == "postgresql"
    ranked = (
        select(
            CampaignAward.member_id.label("member_id"),
            CampaignAward.occurred_at.label("start"),
            CampaignAward.purchase_key.label("first_key"),
            func.row_number()
            .over(
                partition_by=CampaignAward.member_id, order_by=(CampaignAward.occurred_at, CampaignAward.id)
            )
            .label("rn"),
            func.max(case((CampaignAward.status == AwardStatus.GRANTED, 1), else_=0))
            .over(partition_by=CampaignAward.member_id)
            .label("treated"),
        )
        .where(
            CampaignAward.shop_id == shop.id,
            CampaignAward.campaign_id == campaign.id,
            CampaignAward.status.in_(GROUPS),
            CampaignAward.occurred_at <= now,
        )
        .subquery("ranked")
    )
    cohort = (
        select(ranked.c.member_id, ranked.c.start, ranked.c.first_key, ranked.c.treated)
        .where(ranked.c.rn == 1)
        .cte("cohort")
    )

    def within(at: Any) -> Any:
        """`at` is no later than the end of the member's window."""
        if postgres:
            return at <= cohort.c.start + literal(WINDOW, Interval())
        return _sqlite_time(at) <= func.strftime("%Y-%m-%d %H:%M:%f", cohort.c.start, f"+{WINDOW.days} days")

    refunded = (
        select(func.coalesce(func.sum(PurchaseRefund.amount), 0))
        .where(PurchaseRefund.purchase_id == Purchase.id, PurchaseRefund.processed_at <= now)
        .where(within(PurchaseRefund.processed_at))
        .scalar_subquery()
    )
    in_window = and_(
        Purchase.member_id == cohort.c.member_id,
        Purchase.shop_id == shop.id,
        Purchase.processed_at > cohort.c.start,
        Purchase.processed_at <= now,
        within(Purchase.processed_at),
        or_(cohort.c.first_key.is_(None), Purchase.source + ":" + Purchase.source_id != cohort.c.first_key),
    )
    net = case((Purchase.cancelled.is_(True), literal(0)), else_=Purchase.gross_amount - refunded)
    bought = (
        select(
            cohort.c.member_id,
            cohort.c.treated,
            cohort.c.start,
            case((Purchase.id.is_(None), None), else_=net).label("net"),
        )
        .select_from(cohort)
        .outerjoin(Purchase, in_window)
        .subquery("bought")
    )
    per_member = (
        select(
            bought.c.treated,
            func.coalesce(func.sum(bought.c.net), 0).label("y"),
            func.max(case((bought.c.net > 0, 1), else_=0)).label("converted"),
            case((bought.c.start > now - WINDOW, 1), else_=0).label("open"),
        )
        .group_by(bought.c.member_id, bought.c.treated, bought.c.start)
        .subquery("per_member")
    )
    outcome = select(
        per_member,
        func.avg(per_member.c.y).over(partition_by=per_member.c.treated).label("group_mean"),
    ).subquery("outcome")
    deviation = outcome.c.y - outcome.c.group_mean
    return select(
        outcome.c.treated,
        func.count(),
        func.avg(outcome.c.y),
        func.sum(deviation * deviation),
        func.sum(outcome.c.converted),
        func.sum(outcome.c.open),
    ).group_by(outcome.c.treated)


def _points_cost(session: Session, shop: Shop, campaign: Campaign) -> int:
    """Points the campaign put on member accounts, net of refund reversals and cancellations."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.points), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(
            LedgerTransaction.shop_id == shop.id,
            LedgerTransaction.source == "campaign",
            LedgerTransaction.source_id.like(f"{campaign.id}:%"),
            LedgerPosting.member_id.is_not(None),
            LedgerPosting.account.in_(MEMBER_ACCOUNTS),
        )
    )
    return int(total or 0)


def _codes(session: Session, campaign: Campaign) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                CampaignAward.campaign_id == campaign.id, CampaignAward.code_status.in_(CODES_ISSUED)
            )
        )
        or 0
    )
