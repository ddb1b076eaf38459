"""Campaign settings: validate and keep drafts, start and stop campaigns, and find whom a start concerns.

A draft can change freely. Once started, its rules stay as they were (every member is judged by the same
rules, and awards already decided keep their meaning); only the name, the end and the budget can change.
The instants are event time: a campaign covers purchases made from `starts_at`, whenever they arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.campaigns import KINDS, MAX_HOLDOUT_PCT, MAX_MULTIPLIER, REWARDS
from app.domain.channels import CHANNELS
from app.models.purchase import Purchase
from app.models.rewards import Campaign, CampaignStatus
from app.models.shop import Shop
from app.points.campaigns import members_concerned, rule_of
from app.points.history import schedule_rebuild
from app.shops.locations import cached_names
from app.shops.rules import load_rules

CODE_KINDS = ("free_shipping", "amount", "percentage")
EXPIRY_KINDS = frozenset({"birthday_month", "lapsing"})  # bonuses the rules give their own expiry
MAX_BONUS = 1_000_000
MAX_DAYS = 3650
MAX_CODE_DAYS = 365
MAX_BUDGET = 1_000_000_000
MAX_CODE_VALUE = Decimal(10_000_000)  # money off, in the shop currency (the column holds 12 integer digits)
NAME_MAX = 120

Problem = tuple[str, dict[str, Any]]  # a translation key and its parameters


class CampaignInvalid(ValueError):
    """Settings that cannot be kept: one problem per form field (a translation key and its parameters)."""

    def __init__(self, errors: dict[str, Problem]) -> None:
        super().__init__(", ".join(f"{name}: {key}" for name, (key, _) in errors.items()))
        self.errors = errors


class CampaignLocked(ValueError):
    """The campaign's state forbids the change; `key` names the reason for the merchant."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a draft holds, as the form gave it (parsed, not yet validated)."""

    name: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None = None
    multiplier: Decimal | None = None
    bonus_points: int = 0
    channels: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    ranks: tuple[str, ...] = ()
    weekdays: tuple[int, ...] = ()
    lapse_days: int | None = None
    bonus_expiry_days: int | None = None
    reward: str = "points"
    code_kind: str | None = None
    code_value: Decimal | None = None
    code_valid_days: int | None = None
    budget: int | None = None
    holdout_pct: int = 0


@dataclass(frozen=True, slots=True)
class Amendment:
    """What may still change once a campaign has started."""

    name: str
    ends_at: datetime | None
    budget: int | None


@dataclass
class _Problems:
    errors: dict[str, Problem] = field(default_factory=dict)

    def add(self, name: str, key: str, **params: Any) -> None:
        self.errors.setdefault(name, (key, params))


def rank_handles(shop: Shop) -> tuple[str, ...]:
    """The shop's rank handles, lowest first (what a rank condition may name)."""
    return tuple(tier.handle for tier in load_rules(shop).ranks.tiers)


def known_locations(session: Session, shop: Shop) -> list[tuple[str, str]]:
    """The stores the shop's purchases name, as (location key, name), by name."""
    rows = session.execute(
        select(Purchase.location_key, func.max(Purchase.location_name))
        .where(Purchase.shop_id == shop.id, Purchase.location_key.is_not(None))
        .group_by(Purchase.location_key)
    )
    # A POS order names only its location id: the name comes from the syncer's cache of Shopify locations.
    shopify_names = cached_names(session, shop)
    found = [
        (key, name or shopify_names.get(key.removeprefix("shopify:")) or key)
        for key, name in rows
        if key is not None
    ]
    return sorted(found, key=lambda row: (row[1], row[0]))


def problems(settings: Settings, ranks: Iterable[str], locations: Iterable[str]) -> dict[str, Problem]:
    """Every field that cannot be kept as given, with the reason (empty: the settings are valid)."""
    found = _Problems()
    s = settings
    if not s.name.strip():
        found.add("name", "form.required")
    elif len(s.name) > NAME_MAX:
        found.add("name", "form.too_long", max=NAME_MAX)
    if s.kind not in KINDS:
        found.add("kind", "form.choice")
    if s.reward not in REWARDS:
        found.add("reward", "form.choice")
    if s.ends_at is not None and s.ends_at <= s.starts_at:
        found.add("ends_at", "campaigns.error.ends_before_start")
    if s.kind == "multiplier":
        m = s.multiplier
        if m is None or not Decimal(1) < m <= MAX_MULTIPLIER or m != m.quantize(Decimal("0.01")):
            found.add("multiplier", "campaigns.error.multiplier", max=MAX_MULTIPLIER)
        if s.reward != "points":
            found.add("reward", "campaigns.error.multiplier_points")
    elif s.reward == "points" and not 0 < s.bonus_points <= MAX_BONUS:
        found.add("bonus_points", "campaigns.error.bonus_points", max=f"{MAX_BONUS:,}")
    if s.kind == "lapsing" and not (s.lapse_days and 1 <= s.lapse_days <= MAX_DAYS):
        found.add("lapse_days", "campaigns.error.days", max=MAX_DAYS)
    if s.bonus_expiry_days is not None and not 1 <= s.bonus_expiry_days <= MAX_DAYS:
        found.add("bonus_expiry_days", "campaigns.error.days", max=MAX_DAYS)
    if s.reward == "code":
        _check_code(s, found)
    if s.budget is not None and not 1 <= s.budget <= MAX_BUDGET:
        found.add("budget", "campaigns.error.budget")
    if not 0 <= s.holdout_pct <= MAX_HOLDOUT_PCT:
        found.add("holdout_pct", "campaigns.error.holdout", max=MAX_HOLDOUT_PCT)
    _check_conditions(s, set(ranks), set(locations), found)
    return found.errors


def _check_code(s: Settings, found: _Problems) -> None:
    if s.code_kind not in CODE_KINDS:
        found.add("code_kind", "form.choice")
    elif s.code_kind != "free_shipping":
        value = s.code_value
        if value is None or not 0 < value <= MAX_CODE_VALUE:
            found.add("code_value", "campaigns.error.code_value")
        elif s.code_kind == "percentage" and value > 100:
            found.add("code_value", "campaigns.error.percentage")
    if not (s.code_valid_days and 1 <= s.code_valid_days <= MAX_CODE_DAYS):
        found.add("code_valid_days", "campaigns.error.days", max=MAX_CODE_DAYS)


def _check_conditions(s: Settings, ranks: set[str], locations: set[str], found: _Problems) -> None:
    if not set(s.channels) <= set(CHANNELS):
        found.add("channels", "form.choice")
    if not set(s.ranks) <= ranks:
        found.add("ranks", "campaigns.error.unknown_rank")
    if not set(s.locations) <= locations:
        found.add("locations", "campaigns.error.unknown_location")
    if not all(0 <= d <= 6 for d in s.weekdays):
        found.add("weekdays", "form.choice")


def _validate(session: Session, shop: Shop, settings: Settings) -> None:
    locations = [key for key, _ in known_locations(session, shop)] if settings.locations else []
    errors = problems(settings, rank_handles(shop), locations)
    if errors:
        raise CampaignInvalid(errors)


def _values(s: Settings) -> dict[str, Any]:
    """The row's columns: fields that do not apply to the kind or the reward are left empty."""
    multiplier = s.kind == "multiplier"
    code = s.reward == "code"
    conditions: dict[str, list[Any]] = {}
    if multiplier:  # the conditions select purchases, which only the multiplier looks at
        conditions = {
            "channels": sorted(set(s.channels)),
            "locations": sorted(set(s.locations)),
            "ranks": sorted(set(s.ranks)),
            "weekdays": sorted(set(s.weekdays)),
        }
    return {
        "name": s.name.strip(),
        "kind": s.kind,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "multiplier": s.multiplier if multiplier else None,
        "bonus_points": 0 if multiplier or code else s.bonus_points,
        "conditions": conditions,
        "lapse_days": s.lapse_days if s.kind == "lapsing" else None,
        "bonus_expiry_days": s.bonus_expiry_days if s.kind in EXPIRY_KINDS and not code else None,
        "reward": s.reward,
        "code_kind": s.code_kind if code else None,
        "code_value": s.code_value if code and s.code_kind != "free_shipping" else None,
        "code_valid_days": s.code_valid_days if code else None,
        "budget": s.budget,
        "holdout_pct": s.holdout_pct,
    }


def settings_of(campaign: Campaign) -> Settings:
    """A campaign's stored settings, as a form would give them back."""
    c = campaign.conditions or {}
    return Settings(
        name=campaign.name,
        kind=campaign.kind,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        multiplier=campaign.multiplier,
        bonus_points=campaign.bonus_points,
        channels=tuple(c.get("channels") or ()),
        locations=tuple(c.get("locations") or ()),
        ranks=tuple(c.get("ranks") or ()),
        weekdays=tuple(c.get("weekdays") or ()),
        lapse_days=campaign.lapse_days,
        bonus_expiry_days=campaign.bonus_expiry_days,
        reward=campaign.reward,
        code_kind=campaign.code_kind,
        code_value=campaign.code_value,
        code_valid_days=campaign.code_valid_days,
        budget=campaign.budget,
        holdout_pct=campaign.holdout_pct,
    )


def campaign_for(session: Session, shop: Shop, campaign_id: int) -> Campaign | None:
    """The shop's campaign with this id (None for another shop's)."""
    row = session.get(Campaign, campaign_id)
    return row if row is not None and row.shop_id == shop.id else None


def campaigns(session: Session, shop: Shop) -> list[Campaign]:
    """The shop's campaigns, newest first."""
    query = select(Campaign).where(Campaign.shop_id == shop.id).order_by(Campaign.id.desc())
    return list(session.scalars(query))


def create(session: Session, shop: Shop, settings: Settings, now: datetime) -> Campaign:
    """A new draft (raises CampaignInvalid); the caller commits."""
    _validate(session, shop, settings)
    row = Campaign(shop_id=shop.id, status=CampaignStatus.DRAFT, created_at=now, updated_at=now)
    for name, value in _values(settings).items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    return row


def update(session: Session, shop: Shop, campaign: Campaign, settings: Settings, now: datetime) -> None:
    """Replace a draft's settings; a started campaign's rules are fixed (CampaignLocked)."""
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignLocked("campaigns.error.rules_locked")
    _validate(session, shop, settings)
    for name, value in _values(settings).items():
        setattr(campaign, name, value)
    campaign.updated_at = now


def amend(session: Session, shop: Shop, campaign: Campaign, change: Amendment, now: datetime) -> None:
    """Rename a started campaign, move its end or change its budget (raises CampaignInvalid)."""
    if campaign.status == CampaignStatus.STOPPED:
        raise CampaignLocked("campaigns.error.stopped")
    found = _Problems()
    if not change.name.strip():
        found.add("name", "form.required")
    elif len(change.name) > NAME_MAX:
        found.add("name", "form.too_long", max=NAME_MAX)
    if change.ends_at is not None and change.ends_at <= max(campaign.starts_at, now):
        # Ending in the past would take back awards already given: stop the campaign instead.
        found.add("ends_at", "campaigns.error.end_in_past")
    if change.budget is not None and not 1 <= change.budget <= MAX_BUDGET:
        found.add("budget", "campaigns.error.budget")
    if found.errors:
        raise CampaignInvalid(found.errors)
    campaign.name = change.name.strip()
    campaign.ends_at = change.ends_at
    campaign.budget = change.budget
    campaign.updated_at = now


def start(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> int:
    """Start a draft and replay the members it may already concern; returns how many that is.

    A campaign never starts in the past: an earlier start date becomes now, so no one is rewarded for what
    happened before the merchant pressed start. Commits the start with the replay (or its queued job).
    """
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignLocked("campaigns.error.not_draft")
    starts_at = max(campaign.starts_at, now)
    if campaign.ends_at is not None and campaign.ends_at <= starts_at:
        raise CampaignInvalid({"ends_at": ("campaigns.error.already_ended", {})})
    campaign.status = CampaignStatus.ACTIVE
    campaign.starts_at = starts_at
    campaign.started_at = now
    campaign.updated_at = now
    ids = members_to_revisit(session, shop, campaign, now)
    # A few members are replayed at once; more are queued for the worker (the history page shows progress).
    schedule_rebuild(session, shop, "campaign", ids, now)
    session.commit()
    return len(ids)


def stop(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> None:
    """Stop a running campaign: nothing after `now` counts; awards already decided stay as they are."""
    if campaign.status != CampaignStatus.ACTIVE:
        raise CampaignLocked("campaigns.error.not_active")
    campaign.status = CampaignStatus.STOPPED
    campaign.stopped_at = now
    campaign.updated_at = now


def members_to_revisit(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> list[int]:
    """The active members whose awards under the campaign may be due by `now`, in id order.

    Purchase kinds: members with a purchase made since the start (event time, up to the end). Birthday:
    members whose birth month is known. Lapsing: members whose last purchase is older than `lapse_days`.
    """
    return members_concerned(session, shop.id, rule_of(campaign), now)
