"""Flow actions: grant points, set a rank floor, issue a campaign's reward code; each once per action run.

Flow sends `shopify_domain`, `action_run_id`, `handle` and the action's `properties` (the customer reference
as `customer_id`) and retries a run it is unsure of with the same `action_run_id`
(https://shopify.dev/docs/apps/build/flow/actions/endpoints#flow-action-execution): the run id is recorded
with the change in one transaction, so a second delivery finds it and changes nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.campaigns.codes import CampaignRefused, issue
from app.flow import catalog
from app.members.records import active_member, by_shopify_id
from app.models.integrations import FlowActionRun
from app.models.member import Member
from app.models.shop import Shop
from app.points.ranks import set_rank_floor
from app.points.spending import adjust

MAX_GRANT = 1_000_000
MAX_REASON = 200
_RUN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class ActionRefused(Exception):
    """The run cannot be applied; `status` is the HTTP answer (4xx: Flow fails the run without retrying)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def apply_action(session: Session, handle: str, body: Any, now: datetime) -> str:
    """Apply one action run: "applied", or "repeated" for a run already applied. Raises ActionRefused."""
    if handle not in catalog.ACTIONS:
        raise ActionRefused(404, "unknown_action")
    if not isinstance(body, dict):
        raise ActionRefused(400, "body_not_an_object")
    if body.get("handle") not in (None, handle):
        raise ActionRefused(400, "handle_mismatch")
    run_id = body.get("action_run_id")
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ActionRefused(400, "bad_action_run_id")
    properties = body.get("properties")
    if not isinstance(properties, dict):
        raise ActionRefused(400, "properties_missing")
    shop = _shop(session, body.get("shopify_domain"))
    if session.scalar(select(FlowActionRun.id).where(*_run(shop, run_id))) is not None:
        return "repeated"
    member = _member(session, shop, properties.get(catalog.CUSTOMER_KEY))
    if handle == catalog.GRANT_POINTS:
        points, reason = _grant_input(properties)
    elif handle == catalog.ISSUE_REWARD_CODE:
        campaign_id = _campaign_input(properties)
    else:
        rank, expires_at = _floor_input(shop, properties, now)
    try:
        with session.begin_nested():
            session.add(
                FlowActionRun(shop_id=shop.id, action_run_id=run_id, handle=handle, member_id=member.id)
            )
    except IntegrityError:
        return "repeated"  # the same run, delivered twice at once: the other delivery applies it
    if handle == catalog.GRANT_POINTS:
        adjust(
            session, member, points, reason=reason, source_id=f"flow:{run_id}", now=now, actor="Shopify Flow"
        )
    elif handle == catalog.ISSUE_REWARD_CODE:
        # The award is granted here; the worker's reward-code job creates the code in Shopify and delivers it.
        try:
            issue(session, shop, campaign_id, member, f"flow:{run_id}", now)
        except CampaignRefused as exc:
            status = 404 if exc.code == "unknown_campaign" else 422
            raise ActionRefused(status, exc.code) from None
    else:
        try:
            set_rank_floor(session, shop, member, rank, expires_at, now)
        except KeyError:
            raise ActionRefused(422, "unknown_rank") from None
        except ValueError:
            raise ActionRefused(422, "until_in_the_past") from None
    return "applied"


def _run(shop: Shop, run_id: str) -> tuple[Any, ...]:
    return (FlowActionRun.shop_id == shop.id, FlowActionRun.action_run_id == run_id)


def _shop(session: Session, domain: Any) -> Shop:
    shop = session.scalar(select(Shop).where(Shop.domain == domain)) if isinstance(domain, str) else None
    if shop is None or not shop.is_installed:
        raise ActionRefused(404, "unknown_shop")
    return shop


def _member(session: Session, shop: Shop, customer_id: Any) -> Member:
    if (
        isinstance(customer_id, bool)
        or not isinstance(customer_id, int | str)
        or not str(customer_id).isdigit()
    ):
        raise ActionRefused(400, "bad_customer_id")
    member = active_member(session, by_shopify_id(session, shop, str(customer_id)))
    if member is None:
        raise ActionRefused(404, "unknown_customer")
    return member


def _grant_input(properties: dict[str, Any]) -> tuple[int, str]:
    points = properties.get("points")
    if isinstance(points, str) and points.strip().isdigit():
        points = int(points)
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_GRANT:
        raise ActionRefused(422, "bad_points")
    reason = properties.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ActionRefused(422, "bad_reason")
    return points, reason.strip()


def _campaign_input(properties: dict[str, Any]) -> int:
    value = properties.get("campaign-id")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ActionRefused(422, "bad_campaign_id")
    return value


def _floor_input(shop: Shop, properties: dict[str, Any], now: datetime) -> tuple[str, datetime | None]:
    rank = properties.get("rank-handle")
    if not isinstance(rank, str) or not rank.strip():
        raise ActionRefused(422, "bad_rank_handle")
    until = properties.get("until")
    if until in (None, ""):
        return rank.strip(), None
    try:
        last_day = date.fromisoformat(str(until)[:10])
    except ValueError:
        raise ActionRefused(422, "bad_until") from None
    # The floor holds through the whole of its last day in the shop's time zone.
    zone = ZoneInfo(shop.timezone)
    return rank.strip(), datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)
