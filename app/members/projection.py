"""What Shopify should hold for a batch of members: metafields (the domain projection + expiry date) and tags.

The domain's pure `metafields()` (app/domain/projection.py) gives the 16 keys of DESIGN.md; this module loads
the members' rows in a few queries per batch and adds `points_expire_at` (a date, so segments can find
members whose points expire soon; declared in shopify.app.toml).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.history import PurchaseFact, local_date
from app.domain.projection import MemberSnapshot, MetafieldValue, metafields
from app.domain.ranks import EPSILON
from app.domain.settings import ShopRules
from app.members.records import refunds_by_purchase, to_fact
from app.models.ledger import PointLot
from app.models.member import Member
from app.models.purchase import Purchase
from app.models.rewards import CampaignAward
from app.models.shop import Shop
from app.shopify.ids import customer_gid
from app.shops.rules import load_rules

DEFAULT_TAG_PREFIX = "tsunagu:"
REWARD_TAG = "reward"
EXPIRY_KEY = "points_expire_at"
# The opt-in mirror: the scalar member fields in a merchant-owned namespace, which every app with
# read_customers can read (the app-owned `$app` ones are merchant_read: "No other apps have access",
# https://shopify.dev/docs/api/admin-graphql/latest/enums/MetafieldAdminAccess). Plus `points_expiring`.
MIRROR_NAMESPACE = "tsunagu"
MIRROR_SETTING = "metafield_mirror"  # Shop.settings: the merchant's choice
MIRROR_DEFINED_SETTING = "metafield_mirror_defined"  # Shop.settings: the definitions exist in Shopify
MIRROR_FIELDS = {
    "member_number": "single_line_text_field",
    "rank": "single_line_text_field",
    "points_balance": "number_integer",
    "points_expire_at": "date",
    "channel_mix": "single_line_text_field",
    "last_store_visit_at": "date",
    "line_linked": "boolean",
}


@dataclass(frozen=True, slots=True)
class Projection:
    """Everything the syncer writes for one member, as of one sync_version."""

    member_id: int
    customer_gid: str
    version: int
    metafields: dict[str, MetafieldValue]
    tags: frozenset[str]


def tag_prefix(shop: Shop) -> str:
    """The shop's prefix for app tags (merchant-configurable: `Shop.settings["tag_prefix"]`)."""
    prefix = (shop.settings or {}).get("tag_prefix")
    return str(prefix) if prefix else DEFAULT_TAG_PREFIX


def desired_tags(prefix: str, rank: str, channel_mix: str | None, reward: bool = False) -> frozenset[str]:
    """Tags for tools that read only tags (Klaviyo, LINE CRMs): the rank, the channel mix, and `reward`
    while the member holds an open campaign reward code (a Klaviyo flow can send it, then the tag goes)."""
    tags = {f"{prefix}rank-{rank}"}
    if channel_mix and channel_mix != "none":
        tags.add(f"{prefix}{channel_mix.replace('_', '-')}")
    if reward:
        tags.add(f"{prefix}{REWARD_TAG}")
    return frozenset(tags)


def reward_holders(session: Session, member_ids: Sequence[int], now: datetime) -> set[int]:
    """Members with an active, unexpired reward code (app/campaigns/codes.py keeps the status)."""
    return set(
        session.scalars(
            select(CampaignAward.member_id).where(
                CampaignAward.member_id.in_(member_ids),
                CampaignAward.code_status == "active",
                CampaignAward.code_expires_at > now,
            )
        )
    )


def points_expire_at(member: Member, lots: Sequence[PointLot], rules: ShopRules) -> datetime | None:
    """When the member's next available points expire (None when nothing can expire).

    Each open lot carries the instant it expires as the member's last replay left it
    (app/domain/replay.py), whatever the rule: rolling, per lot, or an opening balance's own date.
    """
    due = [lot.expires_at for lot in lots if lot.expired_at is None and lot.remaining > 0 and lot.expires_at]
    if not due or member.points_available <= 0:
        return None
    return min(due)


def points_expiring_by(lots: Sequence[PointLot], until: datetime) -> int:
    """Available points of the open lots that expire at or before `until`."""
    return sum(
        lot.remaining
        for lot in lots
        if lot.expired_at is None
        and lot.remaining > 0
        and lot.expires_at is not None
        and lot.expires_at <= until
    )


def points_expiring(member: Member, lots: Sequence[PointLot], rules: ShopRules, timezone: str) -> int | None:
    """How many points expire on the next expiry date (`points_expire_at`); None when nothing can expire."""
    first = points_expire_at(member, lots, rules)
    if first is None:
        return None
    zone = ZoneInfo(timezone)
    day_end = datetime.combine(first.astimezone(zone).date() + timedelta(days=1), time.min, tzinfo=zone)
    return min(points_expiring_by(lots, day_end - EPSILON), member.points_available)


def mirror_enabled(shop: Shop) -> bool:
    """Whether the merchant opted in to the `tsunagu` mirror and its definitions exist (members/mirror.py)."""
    settings = shop.settings or {}
    return settings.get(MIRROR_SETTING) is True and settings.get(MIRROR_DEFINED_SETTING) is True


def _mirror(values: dict[str, MetafieldValue], expiring: int | None) -> dict[str, MetafieldValue]:
    """The scalar member fields again, under `tsunagu.<key>` (keys with a namespace are written there)."""
    out = {
        f"{MIRROR_NAMESPACE}.{key}": MetafieldValue(mtype, values[key].value)
        for key, mtype in MIRROR_FIELDS.items()
        if key in values
    }
    out[f"{MIRROR_NAMESPACE}.points_expiring"] = MetafieldValue(
        "number_integer", str(expiring) if expiring is not None else None
    )
    return out


def project(session: Session, shop: Shop, members: Sequence[Member], now: datetime) -> dict[int, Projection]:
    """Projections of members that have a Shopify customer, keyed by member id (a few queries in all)."""
    linked = [m for m in members if m.shopify_customer_id and m.is_active]
    ids = [m.id for m in linked]
    if not ids:
        return {}
    facts = _facts(session, ids)
    lots: dict[int, list[PointLot]] = defaultdict(list)
    for lot in session.scalars(select(PointLot).where(PointLot.member_id.in_(ids), PointLot.remaining > 0)):
        lots[lot.member_id].append(lot)
    rules = load_rules(shop)
    prefix = tag_prefix(shop)
    mirror = mirror_enabled(shop)
    holders = reward_holders(session, ids, now)
    out: dict[int, Projection] = {}
    for m in linked:
        snapshot = MemberSnapshot(
            member_number=m.member_number,
            rank=m.rank,
            points_available=m.points_available,
            points_pending=m.points_pending,
            line_linked=m.line_linked,
            facts=facts.get(m.id, []),
            currency=shop.currency,
            timezone=shop.timezone,
        )
        values = metafields(snapshot, now)
        expiry = local_date(points_expire_at(m, lots.get(m.id, []), rules), shop.timezone)
        values[EXPIRY_KEY] = MetafieldValue("date", expiry.isoformat() if expiry else None)
        if mirror:
            values.update(_mirror(values, points_expiring(m, lots.get(m.id, []), rules, shop.timezone)))
        out[m.id] = Projection(
            member_id=m.id,
            customer_gid=customer_gid(m.shopify_customer_id or ""),
            version=m.sync_version,
            metafields=values,
            tags=desired_tags(prefix, m.rank, values["channel_mix"].value, m.id in holders),
        )
    return out


def _facts(session: Session, member_ids: list[int]) -> dict[int, list[PurchaseFact]]:
    """Every purchase (with its refunds) of the members, as the domain's history facts (two queries)."""
    purchases = list(
        session.scalars(
            select(Purchase)
            .where(Purchase.member_id.in_(member_ids))
            .order_by(Purchase.processed_at, Purchase.id)
        )
    )
    refunds = refunds_by_purchase(session, purchases)
    out: dict[int, list[PurchaseFact]] = defaultdict(list)
    for p in purchases:
        out[p.member_id].append(to_fact(p, refunds.get(p.id, [])))
    return out
