"""Reward codes: a granted code award becomes a single-use Shopify discount code for that customer only.

A code is claimed first (`creating`, with its code string and validity window committed), then created in
Shopify outside any transaction. The code string is the idempotency key: a retried creation sends the same
code, and Shopify's TAKEN answer for it means an earlier attempt got through, so the code is looked up and
kept. Values: `amount` is money off in the shop currency, `percentage` a percent (10 = 10% off), and
`free_shipping` takes nothing off the goods and the whole shipping charge, to any destination.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeFreeShippingCreate
https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeBasicCreate
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import String, cast, select, update
from sqlalchemy.orm import Session

from app.i18n import format_money, translate
from app.members.records import touch
from app.models.member import Member, MemberStatus
from app.models.purchase import Purchase
from app.models.rewards import AwardStatus, Campaign, CampaignAward, CampaignStatus, Redemption
from app.models.shop import Shop
from app.models.types import rows_affected
from app.points.redemption import new_code
from app.shopify.errors import ShopifyError, ShopifyUserErrors
from app.shopify.ids import customer_gid
from app.shopify.pacing import CostPacer, paced_execute

DEFAULT_VALID_DAYS = 30
CLAIM_BATCH = 50
RETRY_AFTER = timedelta(minutes=2)  # a `creating` code whose answer never came is sent again after this
GIVE_UP_AFTER = timedelta(days=1)  # Shopify unreachable this long: the code is marked failed


class CodeStatus(StrEnum):
    """CampaignAward.code_status: creating -> active -> used | expired; or failed."""

    CREATING = "creating"
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    FAILED = "failed"


class CampaignRefused(Exception):
    """A code cannot be issued from this campaign; `code` says why (for an API answer)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def valid_days(campaign: Campaign) -> int:
    return campaign.code_valid_days or DEFAULT_VALID_DAYS


def _free_code(session: Session, shop: Shop) -> str:
    """A new code no redemption or award of the shop uses (Shopify's TAKEN still guards the rest)."""
    for _ in range(20):
        code = new_code()
        taken = session.scalar(
            select(CampaignAward.id).where(CampaignAward.shop_id == shop.id, CampaignAward.code == code)
        ) or session.scalar(
            select(Redemption.id).where(Redemption.shop_id == shop.id, Redemption.code == code)
        )
        if taken is None:
            return code
    raise RuntimeError("no free code after 20 tries")  # pragma: no cover - 32^10 codes


def claim(session: Session, shop: Shop, now: datetime, limit: int = CLAIM_BATCH) -> list[int]:
    """Mark due code awards `creating` (new ones, and unanswered ones again); commit; their ids.

    SKIP LOCKED: several workers claim side by side, never the same award (SQLite: one worker).
    """
    due = (
        select(CampaignAward)
        .join(Campaign, Campaign.id == CampaignAward.campaign_id)
        .where(
            CampaignAward.shop_id == shop.id,
            CampaignAward.status == AwardStatus.GRANTED,
            Campaign.reward == "code",
            (CampaignAward.code_status.is_(None))
            | (
                (CampaignAward.code_status == CodeStatus.CREATING)
                & (CampaignAward.updated_at <= now - RETRY_AFTER)
            ),
        )
        .order_by(CampaignAward.id)
        .limit(limit)
        .with_for_update(of=CampaignAward, skip_locked=True)
    )
    awards = list(session.scalars(due))
    for award in awards:
        if award.code is None:
            campaign = session.get(Campaign, award.campaign_id)
            award.code = _free_code(session, shop)
            award.code_expires_at = now + timedelta(
                days=valid_days(campaign) if campaign else DEFAULT_VALID_DAYS
            )
        award.code_status, award.updated_at = CodeStatus.CREATING, now
    ids = [a.id for a in awards]
    session.commit()
    return ids


def _value(campaign: Campaign) -> dict[str, Any]:
    value = campaign.code_value or Decimal(0)
    if campaign.code_kind == "percentage":
        return {"percentage": float(value / 100)}
    return {"discountAmount": {"amount": str(value), "appliesOnEachItem": False}}


def mutation(campaign: Campaign, award: CampaignAward, customer: str) -> tuple[str, dict[str, Any]]:
    """The document and variables that create the award's code for one customer, used once."""
    if not award.code or award.code_expires_at is None:
        raise ValueError("the award has no claimed code")
    starts = award.code_expires_at - timedelta(days=valid_days(campaign))
    common: dict[str, Any] = {
        "title": f"Tsunagu: {campaign.name} ({award.code})",  # names are at most 120 characters
        "code": award.code,
        "startsAt": _iso(starts),
        "endsAt": _iso(award.code_expires_at),
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": {"customers": {"add": [customer_gid(customer)]}},
    }
    if campaign.code_kind == "free_shipping":
        shipping = {**common, "destination": {"all": True}}
        return "discount_code_free_shipping_create", {"freeShippingCodeDiscount": shipping}
    basic = {**common, "customerGets": {"value": _value(campaign), "items": {"all": True}}}
    return "discount_code_basic_create", {"basicCodeDiscount": basic}


def create(session: Session, client: Any, pacer: CostPacer, award_id: int, now: datetime) -> str | None:
    """Create one claimed code in Shopify: the code status it ends in (None: still creating, retried)."""
    award = session.get(CampaignAward, award_id)
    campaign = session.get(Campaign, award.campaign_id) if award else None
    if award is None or campaign is None or award.code_status != CodeStatus.CREATING:
        return None
    if award.status != AwardStatus.GRANTED:  # withdrawn since the claim (a late sale changed history)
        return _fail(session, award, "the award was withdrawn before its code was made", now)
    member = session.get(Member, award.member_id)
    if member is None or member.status != MemberStatus.ACTIVE or not member.shopify_customer_id:
        return _fail(session, award, "the member has no Shopify customer", now)
    document, variables = mutation(campaign, award, member.shopify_customer_id)
    try:
        data = paced_execute(client, pacer, document, variables)
    except ShopifyUserErrors as exc:
        if any(e.get("code") == "TAKEN" for e in exc.user_errors):
            return _adopt(session, client, pacer, award, member, now)
        return _fail(session, award, "; ".join(str(e.get("message")) for e in exc.user_errors), now)
    except ShopifyError as exc:
        session.rollback()  # unknown outcome: stays `creating`, sent again with the same code
        starts = (
            award.code_expires_at - timedelta(days=valid_days(campaign)) if award.code_expires_at else now
        )
        if now - starts >= GIVE_UP_AFTER:
            return _fail(session, award, f"Shopify did not answer ({type(exc).__name__})", now)
        return None
    node = next(iter(data.values()))["codeDiscountNode"]
    return _activate(session, award, member, node["id"], now)


def _adopt(
    session: Session, client: Any, pacer: CostPacer, award: CampaignAward, member: Member, now: datetime
) -> str:
    """TAKEN for our own code: an earlier attempt created it. Keep it if it is the one we titled."""
    data = paced_execute(client, pacer, "code_discount_node_by_code", {"code": award.code}, expected_cost=2)
    node = data.get("codeDiscountNodeByCode") or {}
    title = str((node.get("codeDiscount") or {}).get("title") or "")
    if node.get("id") and title.startswith("Tsunagu:") and title.endswith(f"({award.code})"):
        return _activate(session, award, member, node["id"], now)
    return _fail(session, award, "the code is taken by another discount", now)


def _activate(session: Session, award: CampaignAward, member: Member, gid: str, now: datetime) -> str:
    award.code_status, award.discount_gid, award.code_error = CodeStatus.ACTIVE, gid, None
    award.updated_at = now
    touch(member, now)  # the member's reward tag is projected on the next sync
    session.commit()
    return CodeStatus.ACTIVE


def _fail(session: Session, award: CampaignAward, reason: str, now: datetime) -> str:
    award.code_status, award.code_error, award.updated_at = CodeStatus.FAILED, reason[:1000], now
    session.commit()
    return CodeStatus.FAILED


def settle(session: Session, shop: Shop, now: datetime) -> dict[str, int]:
    """Codes an order used become `used`, codes past their end `expired`; the members' tags follow."""
    rows = session.scalars(
        select(CampaignAward).where(
            CampaignAward.shop_id == shop.id, CampaignAward.code_status == CodeStatus.ACTIVE
        )
    ).all()
    counts = {"used": 0, "expired": 0}
    if not rows:
        return counts
    by_code = {str(r.code).upper(): r for r in rows}
    since = min(r.created_at for r in rows) - timedelta(days=1)
    # Only the shop's purchases since the oldest open code that carry any code (online or at the register).
    purchases = session.execute(
        select(Purchase.discount_codes).where(
            Purchase.shop_id == shop.id,
            Purchase.processed_at >= since,
            cast(Purchase.discount_codes, String).not_in(("[]", "null")),
        )
    ).scalars()
    changed: set[int] = set()
    for codes in purchases:
        for code in codes or []:
            row = by_code.pop(str(code).upper(), None)
            if row is not None:
                row.code_status, row.updated_at = CodeStatus.USED, now
                changed.add(row.member_id)
                counts["used"] += 1
    for row in by_code.values():
        if row.code_expires_at is not None and row.code_expires_at <= now:
            row.code_status, row.updated_at = CodeStatus.EXPIRED, now
            changed.add(row.member_id)
            counts["expired"] += 1
    for member_id in changed:
        member = session.get(Member, member_id)
        if member is not None:
            touch(member, now)
    session.commit()
    return counts


def label(campaign: Campaign, currency: str, lang: str) -> str:
    """What a code gives, in the shopper's language: 送料無料 / ¥500 off / 10% off."""
    value = campaign.code_value or Decimal(0)
    if campaign.code_kind == "free_shipping":
        return translate("reward.free_shipping", lang)
    if campaign.code_kind == "percentage":
        return translate("reward.percent_off", lang, percent=f"{value.normalize():f}")
    return translate("reward.amount_off", lang, amount=format_money(value, currency, lang))


def active_codes(session: Session, member: Member, now: datetime) -> list[tuple[CampaignAward, Campaign]]:
    """The member's codes open to use now, soonest to end first (the card shows them)."""
    return [
        (award, campaign)
        for award, campaign in session.execute(
            select(CampaignAward, Campaign)
            .join(Campaign, Campaign.id == CampaignAward.campaign_id)
            .where(
                CampaignAward.member_id == member.id,
                CampaignAward.code_status == CodeStatus.ACTIVE,
                CampaignAward.code_expires_at > now,
            )
            .order_by(CampaignAward.code_expires_at, CampaignAward.id)
        ).all()
    ]


def issue(
    session: Session, shop: Shop, campaign_id: int, member: Member, occasion: str, now: datetime
) -> int:
    """Grant one code from a code-reward campaign outside its rules (a Flow action): the award's id.

    The budget counts codes; it is taken with a compare-and-swap so two runs never both take the last one.
    Raises CampaignRefused: unknown_campaign, not_a_code_reward, campaign_not_active, over_budget.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.shop_id != shop.id:
        raise CampaignRefused("unknown_campaign")
    if campaign.reward != "code" or not campaign.code_kind:
        raise CampaignRefused("not_a_code_reward")
    if campaign.status != CampaignStatus.ACTIVE:
        raise CampaignRefused("campaign_not_active")
    taken = update(Campaign).where(Campaign.id == campaign.id)
    if campaign.budget is not None:
        taken = taken.where(Campaign.granted < Campaign.budget)
    swapped = session.execute(
        taken.values(granted=Campaign.granted + 1).execution_options(synchronize_session=False)
    )
    if rows_affected(swapped) != 1:
        raise CampaignRefused("over_budget")
    award = CampaignAward(
        shop_id=shop.id,
        campaign_id=campaign.id,
        member_id=member.id,
        occasion=occasion,
        status=AwardStatus.GRANTED,
        points=0,
        occurred_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(award)
    session.flush()
    return award.id
