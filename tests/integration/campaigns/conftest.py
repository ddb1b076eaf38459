"""Campaign rewards' world: the test shop installed against the Shopify emulator, a code-reward campaign."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.campaigns.jobs import issue_reward_codes
from app.members.records import create_member
from app.models.member import Member
from app.models.rewards import Campaign, CampaignAward
from app.models.shop import Shop
from app.models.types import utcnow
from tests.integration.proxy.conftest import installed, remote  # noqa: F401  (fixtures, registered here)
from tests.integration.store.conftest import line_api  # noqa: F401


def campaign(session, shop: Shop, *, reward: str = "code", kind: str = "free_shipping", **fields) -> Campaign:
    """An active campaign that rewards with a code (or points), started a month ago."""
    now = utcnow()
    row = Campaign(
        shop_id=shop.id,
        name=fields.pop("name", "Free shipping after a store visit"),
        kind="first_online_after_store",
        status=fields.pop("status", "active"),
        starts_at=now - timedelta(days=30),
        started_at=now - timedelta(days=30),
        reward=reward,
        code_kind=kind if reward == "code" else None,
        code_valid_days=fields.pop("valid_days", 14),
        conditions={},
        **fields,
    )
    session.add(row)
    session.commit()
    return row


def customer_member(session, shop: Shop, remote_shop) -> tuple[int, Member]:
    """A customer in Shopify and the member the app keeps for it."""
    cid = int(remote_shop.add_customer(first_name="Hanako")["id"])
    member = create_member(session, shop, str(cid))
    session.commit()
    return cid, member


def award(
    session, row: Campaign, member: Member, occasion: str = "first_online", points: int = 0
) -> CampaignAward:
    """A granted award, as the engine records it when the member's occasion is first seen."""
    now = utcnow()
    out = CampaignAward(
        shop_id=row.shop_id,
        campaign_id=row.id,
        member_id=member.id,
        occasion=occasion,
        status="granted",
        points=points,
        occurred_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(out)
    session.commit()
    return out


def run_job(session, shop: Shop, now: datetime | None = None) -> dict[str, int]:
    """One round of the worker's reward-code job for the shop."""
    return issue_reward_codes(session, shop, now or utcnow())
