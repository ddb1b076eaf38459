"""Campaign awards: each member's occasions decided once (holdout, budget), then handed to the replay.

The rules (app/domain/campaigns.py) say which occasions a member's history gives, the same whatever order
events arrived in. What cannot be pure is decided here, once, when the engine first sees an occasion: whether
the member is in the campaign's holdout (a stable hash, so the same member is always in the same group) and
whether the budget still has room (first come, first served; the claim is one conditional UPDATE, so two
workers cannot overspend it). A granted award follows its purchase: an order edited upwards claims the extra
points from the budget (kept at what was granted when there is no room), refunds, an edit down and a
cancellation take it down; without a budget the result is the same whatever order events arrived in. An award
whose occasion no longer holds (a late backdated sale moved the member's first store visit before the
campaign, a merge) is withdrawn and its budget given back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, insert, or_, select, update
from sqlalchemy.orm import Session

from app.domain.campaigns import PURCHASE_KINDS, CampaignRule, Found, Occasion, Sale, in_holdout, occasions
from app.domain.replay import BonusIn, PurchaseIn, earning_terms
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase
from app.models.rewards import AwardStatus, Campaign, CampaignAward, CampaignStatus
from app.models.shop import Shop
from app.models.types import rows_affected
from app.points.histories import load_histories
from app.shops.rules import load_rules

CHUNK = 400  # members read per round by the preview
MANUAL_PREFIX = "flow:"  # occasions of awards a Flow action gave: no rule produces them, none withdraws them


def rule_of(campaign: Campaign) -> CampaignRule:
    """The pure rule of a campaign row; a stopped campaign ends when it was stopped."""
    ends = [t for t in (campaign.ends_at, campaign.stopped_at) if t is not None]
    conditions = campaign.conditions or {}
    return CampaignRule(
        id=campaign.id,
        kind=campaign.kind,
        starts_at=campaign.starts_at,
        ends_at=min(ends) if ends else None,
        multiplier=campaign.multiplier or Decimal(1),
        bonus_points=campaign.bonus_points or 0,
        channels=frozenset(conditions.get("channels") or ()),
        locations=frozenset(conditions.get("locations") or ()),
        ranks=frozenset(conditions.get("ranks") or ()),
        weekdays=frozenset(int(d) for d in conditions.get("weekdays") or ()),
        lapse_days=campaign.lapse_days or 0,
        bonus_expiry_days=campaign.bonus_expiry_days,
        reward=campaign.reward,
        holdout_pct=campaign.holdout_pct or 0,
    )


def started_rules(session: Session, shop_id: int) -> list[CampaignRule]:
    """The shop's campaigns that have been started (running or stopped): their occasions count."""
    rows = session.scalars(
        select(Campaign)
        .where(
            Campaign.shop_id == shop_id,
            Campaign.status.in_((CampaignStatus.ACTIVE, CampaignStatus.STOPPED)),
            Campaign.started_at.is_not(None),
        )
        .order_by(Campaign.id)
    )
    return [rule_of(c) for c in rows]


def sales_of(purchases: Sequence[PurchaseIn], terms: dict[str, tuple[str, Decimal]]) -> list[Sale]:
    """The member's purchases as campaigns see them, with the rank each was made at."""
    return [
        Sale(
            p.key,
            p.processed_at,
            p.gross,
            p.channel,
            p.earn_rate,
            terms[p.key][0],
            terms[p.key][1],
            p.location,
            p.cancelled_at is not None and p.cancelled_at <= p.processed_at,
        )
        for p in purchases
    ]


@dataclass(slots=True)
class _Stored:
    id: int
    status: str
    points: int
    purchase_key: str | None
    occurred_at: datetime


class Awards:
    """The awards of a chunk of members: read in one statement, decided per member, written at the end."""

    def __init__(self, session: Session, shop_id: int, rules: Sequence[CampaignRule], member_ids: list[int]):
        self.session, self.shop_id = session, shop_id
        self.rules = {r.id: r for r in rules}
        self.stored: dict[int, dict[tuple[int, str], _Stored]] = defaultdict(dict)
        rows = session.execute(
            select(
                CampaignAward.id,
                CampaignAward.member_id,
                CampaignAward.campaign_id,
                CampaignAward.occasion,
                CampaignAward.status,
                CampaignAward.points,
                CampaignAward.purchase_key,
                CampaignAward.occurred_at,
            ).where(CampaignAward.member_id.in_(member_ids), CampaignAward.campaign_id.in_(list(self.rules)))
        )
        for aid, member_id, cid, occasion, status, points, purchase_key, at in rows:
            self.stored[member_id][(cid, occasion)] = _Stored(aid, status, points, purchase_key, at)
        self.inserts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.released: dict[int, int] = defaultdict(int)
        self.now: datetime | None = None

    def bonuses(self, member_id: int, found: Found, now: datetime) -> list[BonusIn]:
        """Decide the member's new occasions, withdraw the vanished ones; the bonuses the replay credits."""
        self.now = now
        mine = self.stored.get(member_id, {})
        seen: set[tuple[int, str]] = set()
        out: list[BonusIn] = []
        for occ in found.occasions:
            key = (occ.campaign_id, occ.key)
            seen.add(key)
            stored = mine.get(key)
            if stored is None or stored.status == AwardStatus.WITHDRAWN:
                status, points = self._decide(member_id, occ)
                self._record(member_id, occ, stored, status, points)
            else:
                status, points = stored.status, occ.points
                granted = stored.points
                if status == AwardStatus.GRANTED and occ.points > stored.points:
                    granted = (
                        occ.points if self._claim(occ.campaign_id, occ.points - stored.points) else granted
                    )
                    points = granted
                changed = (stored.purchase_key, stored.occurred_at, stored.points) != (
                    occ.purchase_key,
                    occ.at,
                    granted,
                )
                if changed:
                    self.updates.append(self._row(stored.id, status, granted, occ))
            if status == AwardStatus.GRANTED and points > 0:
                # Ledger keys are unique in the shop and "first_store" is an occasion of every member: the
                # member is part of the bonus's key.
                occasion = f"{member_id}:{occ.key}"
                out.append(
                    BonusIn(occ.campaign_id, occasion, occ.at, points, occ.purchase_key, occ.expires_at)
                )
        for key, stored in mine.items():
            manual = key[1].startswith(MANUAL_PREFIX)  # given by hand (a Flow action), not by the rule
            if (
                key not in seen
                and not manual
                and stored.status == AwardStatus.GRANTED
                and stored.occurred_at <= now
            ):
                self.updates.append({"id": stored.id, "status": AwardStatus.WITHDRAWN, "updated_at": now})
                self.released[key[0]] += self._cost(key[0], stored.points)
        return out

    def _cost(self, campaign_id: int, points: int) -> int:
        """What an award counts against its campaign's budget: its points, or one code."""
        return points if self.rules[campaign_id].reward == "points" else 1

    def _decide(self, member_id: int, occ: Occasion) -> tuple[str, int]:
        rule = self.rules[occ.campaign_id]
        if in_holdout(rule.id, member_id, rule.holdout_pct):
            return AwardStatus.HOLDOUT, occ.points
        granted = self._claim(rule.id, self._cost(rule.id, occ.points))
        return (AwardStatus.GRANTED if granted else AwardStatus.OVER_BUDGET), occ.points

    def _claim(self, campaign_id: int, cost: int) -> bool:
        """Count `cost` against the campaign's budget if it fits: one conditional UPDATE, race-free."""
        claimed = self.session.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign_id,
                or_(Campaign.budget.is_(None), Campaign.granted + cost <= Campaign.budget),
            )
            .values(granted=Campaign.granted + cost)
        )
        return rows_affected(claimed) > 0

    def _row(self, aid: int, status: str, points: int, occ: Occasion) -> dict[str, Any]:
        return {
            "id": aid,
            "status": status,
            "points": points,
            "purchase_key": occ.purchase_key,
            "occurred_at": occ.at,
            "updated_at": self.now,
        }

    def _record(
        self, member_id: int, occ: Occasion, stored: _Stored | None, status: str, points: int
    ) -> None:
        if stored is not None:  # a withdrawn occasion that holds again
            self.updates.append(self._row(stored.id, status, points, occ))
            return
        row = self._row(0, status, points, occ)
        del row["id"]
        self.inserts.append(
            {
                **row,
                "shop_id": self.shop_id,
                "campaign_id": occ.campaign_id,
                "member_id": member_id,
                "occasion": occ.key,
                "created_at": self.now,
            }
        )

    def write(self) -> None:
        """The chunk's award rows and budget releases, a few statements in all."""
        if self.inserts:
            self.session.execute(insert(CampaignAward), self.inserts)
        if self.updates:
            self.session.execute(update(CampaignAward), self.updates)
        for cid, amount in self.released.items():
            if amount:
                left = case((Campaign.granted > amount, Campaign.granted - amount), else_=0)
                self.session.execute(update(Campaign).where(Campaign.id == cid).values(granted=left))


@dataclass(frozen=True, slots=True)
class CampaignPreview:
    """Who a campaign would reach had it run over a recent period of its length, and what it would cost."""

    period_start: datetime
    period_end: datetime
    members: int
    occasions: int
    points: int
    holdout: int
    over_budget: int
    sample: list[tuple[str, datetime, int]]  # member number, occasion instant, points


PREVIEW_DAYS = 30  # the period a campaign without an end is previewed over
SAMPLE_SIZE = 10


def preview_period(campaign: Campaign, now: datetime) -> tuple[datetime, datetime]:
    """The recent period the preview replays the rule over: as long as the campaign, ending now."""
    length = timedelta(days=PREVIEW_DAYS)
    if campaign.ends_at is not None and campaign.ends_at > campaign.starts_at:
        length = min(campaign.ends_at - campaign.starts_at, timedelta(days=366))
    return now - length, now


def members_concerned(session: Session, shop_id: int, rule: CampaignRule, until: datetime) -> list[int]:
    """Active members the rule could concern up to `until`, in id order: a purchase in its period (up to
    `until`), a known birth month, or a last purchase `lapse_days` before `until`."""
    stmt = select(Member.id).where(Member.shop_id == shop_id, Member.status == MemberStatus.ACTIVE)
    if rule.kind == "birthday_month":
        stmt = stmt.where(Member.birth_month.is_not(None))
    elif rule.kind == "lapsing" and rule.lapse_days:
        stmt = stmt.where(Member.last_earning_at < until - timedelta(days=rule.lapse_days))
    elif rule.kind in PURCHASE_KINDS:
        bought = select(Purchase.id).where(
            Purchase.member_id == Member.id,
            Purchase.shop_id == shop_id,
            Purchase.processed_at >= rule.starts_at,
            Purchase.processed_at <= until,
        )
        if rule.ends_at is not None:
            bought = bought.where(Purchase.processed_at < rule.ends_at)
        stmt = stmt.where(bought.exists())
    else:
        return []
    return list(session.scalars(stmt.order_by(Member.id)))


def preview(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> CampaignPreview:
    """The campaign's rule replayed over the recent period of its length: reach, holdout, cost, a sample.

    Read only: nothing is granted. The budget is spent in the order the occasions happened.
    """
    start, end = preview_period(campaign, now)
    rule = replace(rule_of(campaign), starts_at=start, ends_at=end)
    rules = load_rules(shop)
    numbers: dict[int, str] = {}
    found: list[tuple[Occasion, int]] = []
    ids = members_concerned(session, shop.id, rule, end)
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset : offset + CHUNK]
        histories = load_histories(session, chunk)
        members = session.execute(
            select(Member.id, Member.member_number, Member.birth_month).where(Member.id.in_(chunk))
        )
        for member_id, number, birth_month in members:
            history = histories.get(member_id)
            purchases = history.purchases if history is not None else []
            terms = earning_terms(purchases, rules, shop.timezone)
            mine = occasions([rule], sales_of(purchases, terms), end, shop.timezone, birth_month)
            numbers[member_id] = number
            found += [(occ, member_id) for occ in mine.occasions]
    found.sort(key=lambda f: (f[0].at, f[1]))
    budget = campaign.budget
    spent = holdout = over = points = 0
    reached: set[int] = set()
    sample: list[tuple[str, datetime, int]] = []
    for occ, member_id in found:
        if in_holdout(campaign.id, member_id, rule.holdout_pct):
            holdout += 1
            continue
        cost = occ.points if rule.reward == "points" else 1
        if budget is not None and spent + cost > budget:
            over += 1
            continue
        spent += cost
        points += occ.points
        reached.add(member_id)
        if len(sample) < SAMPLE_SIZE:
            sample.append((numbers[member_id], occ.at, occ.points))
    return CampaignPreview(
        start, end, len(reached), len(found) - holdout - over, points, holdout, over, sample
    )


CATCH_UP = timedelta(days=3)  # daily upkeep that missed a day or two still finds the members who lapsed then


def members_due(session: Session, shop: Shop, now: datetime) -> set[int]:
    """Members a running campaign concerns today though nothing of theirs is due: those who went quiet
    `lapse_days` ago, and those in their birth month without this year's birthday award yet.

    Members replayed since a campaign started already carry its next occasion in `next_due_at`; this finds
    the rest (members last replayed before the campaign existed) without replaying the whole shop.
    """
    due: set[int] = set()
    local = now.astimezone(ZoneInfo(shop.timezone or "UTC"))
    for rule in started_rules(session, shop.id):
        if not rule.covers(now):
            continue
        active = (Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
        if rule.kind == "lapsing" and rule.lapse_days > 0:
            quiet = now - timedelta(days=rule.lapse_days)
            window = (Member.last_earning_at <= quiet, Member.last_earning_at > quiet - CATCH_UP)
            due.update(session.scalars(select(Member.id).where(*active, *window)))
        elif rule.kind == "birthday_month":
            awarded = select(CampaignAward.member_id).where(
                CampaignAward.campaign_id == rule.id, CampaignAward.occasion == f"birthday:{local.year}"
            )
            due.update(
                session.scalars(
                    select(Member.id).where(
                        *active, Member.birth_month == local.month, Member.id.not_in(awarded)
                    )
                )
            )
    return due
