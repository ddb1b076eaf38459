"""What campaigns achieved: awards by outcome, members reached and held out, points given and still held.

Read set-based: one grouped query over the awards for every campaign of the shop (the list page) and one sum
over the campaign's ledger postings (the detail page), whatever the number of members.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models.ledger import LedgerPosting, LedgerTransaction
from app.models.rewards import AwardStatus, Campaign, CampaignAward
from app.models.shop import Shop

LEDGER_SOURCE = "campaign"  # the ledger's source for bonus entries, source_id "<campaign id>:<occasion>"
MEMBER_ACCOUNTS = ("pending", "available")
ISSUED_CODES = ("active", "used")


@dataclass(slots=True)
class Summary:
    """One campaign's awards: occasions by status, distinct members granted and held out, points, codes."""

    awards: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in AwardStatus})
    reached: int = 0
    holdout: int = 0
    points_granted: int = 0
    codes_issued: int = 0


@dataclass(frozen=True, slots=True)
class Results:
    """A campaign's figures for its page; `budget_used` is a share (None without a budget)."""

    summary: Summary
    points_net: int
    budget_used: float | None


def budget_used(campaign: Campaign) -> float | None:
    """The share of the budget counted so far (points or codes, as the budget is set)."""
    if not campaign.budget:
        return None
    return campaign.granted / campaign.budget


def summaries(session: Session, shop: Shop, campaign_ids: Iterable[int] | None = None) -> dict[int, Summary]:
    """Each campaign's summary (a campaign without awards yet has none in the answer)."""
    issued = case((CampaignAward.code_status.in_(ISSUED_CODES), 1), else_=0)
    query = (
        select(
            CampaignAward.campaign_id,
            CampaignAward.status,
            func.count(),
            func.count(func.distinct(CampaignAward.member_id)),
            func.coalesce(func.sum(CampaignAward.points), 0),
            func.coalesce(func.sum(issued), 0),
        )
        .where(CampaignAward.shop_id == shop.id)
        .group_by(CampaignAward.campaign_id, CampaignAward.status)
    )
    if campaign_ids is not None:
        query = query.where(CampaignAward.campaign_id.in_(list(campaign_ids)))
    found: dict[int, Summary] = {}
    rows: Any = session.execute(query)  # (campaign id, status, occasions, members, points, codes)
    for campaign_id, status, occasions, members, points, codes in rows:
        summary = found.setdefault(campaign_id, Summary())
        summary.awards[status] = occasions
        if status == AwardStatus.GRANTED:
            summary.reached = members
            summary.points_granted = int(points)
            summary.codes_issued = int(codes)
        elif status == AwardStatus.HOLDOUT:
            summary.holdout = members
    return found


def points_net(session: Session, shop: Shop, campaign: Campaign) -> int:
    """The campaign's points in members' accounts now: bonuses less their refund and cancel reversals."""
    query = (
        select(func.coalesce(func.sum(LedgerPosting.points), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(
            LedgerTransaction.shop_id == shop.id,
            LedgerTransaction.source == LEDGER_SOURCE,
            LedgerTransaction.source_id.like(f"{campaign.id}:%"),
            LedgerPosting.member_id.is_not(None),
            LedgerPosting.account.in_(MEMBER_ACCOUNTS),
        )
    )
    return int(session.scalar(query) or 0)


def results(session: Session, shop: Shop, campaign: Campaign) -> Results:
    """The detail page's figures for one campaign."""
    summary = summaries(session, shop, [campaign.id]).get(campaign.id, Summary())
    return Results(summary, points_net(session, shop, campaign), budget_used(campaign))
