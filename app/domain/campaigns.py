"""Point campaigns as pure rules: which of a member's purchases or moments a campaign rewards, and how much.

Kinds (every instant in event time; days and weekdays in the shop's time zone):
- `multiplier`: a purchase in the campaign's period that matches its channels, stores, ranks (the rank held
  just before the purchase) and weekdays earns `multiplier` times its usual points; the bonus is the
  difference ("2x points day, online too").
- `first_store_visit`: the member's first store purchase ever, when it falls in the period.
- `first_online_after_store`: the member's first online purchase ever, when it follows a store purchase.
- `birthday_month`: once a year, on the first day of the member's birth month (or at the campaign's start,
  when that is later in the same month).
- `lapsing`: the moment a member has gone `lapse_days` without a purchase (or the campaign's start, for one
  already lapsed then), with the bonus's own expiry `bonus_expiry_days` later.

Overlaps: multipliers do not stack; a purchase gets the highest multiplier of the campaigns it matches (a tie
goes to the older campaign). Fixed bonuses are each their own occasion and add to a multiplier.
Refunds: a bonus tied to a purchase follows it, floor(points x net / gross) after each refund, 0 on cancel.
Holdout: a member is in a campaign's holdout when a hash of (campaign, member) falls under its share, so the
same member is always in the same group and the holdout never receives the reward.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from app.domain.channels import ONLINE_CHANNELS, STORE_CHANNELS
from app.domain.points import order_points

KINDS = ("multiplier", "first_store_visit", "first_online_after_store", "birthday_month", "lapsing")
PURCHASE_KINDS = frozenset({"multiplier", "first_store_visit", "first_online_after_store"})
REWARDS = ("points", "code")
MAX_MULTIPLIER = Decimal(10)
MAX_HOLDOUT_PCT = 50


@dataclass(frozen=True, slots=True)
class CampaignRule:
    """A campaign as the rules see it; `ends_at` is the earlier of its end and the moment it was stopped."""

    id: int
    kind: str
    starts_at: datetime
    ends_at: datetime | None = None
    multiplier: Decimal = Decimal(1)
    bonus_points: int = 0
    channels: frozenset[str] = frozenset()
    locations: frozenset[str] = frozenset()
    ranks: frozenset[str] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0 = Monday
    lapse_days: int = 0
    bonus_expiry_days: int | None = None
    reward: str = "points"
    holdout_pct: int = 0

    def covers(self, at: datetime) -> bool:
        """Whether an instant is inside the campaign's period."""
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)


@dataclass(frozen=True, slots=True)
class Sale:
    """A purchase as campaigns see it: when, where, how much, and what it earns without a campaign."""

    key: str
    at: datetime
    gross: Decimal
    channel: str
    earn_rate: Decimal
    rank: str  # held just before the purchase
    rank_multiplier: Decimal
    location: str | None = None
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Occasion:
    """One reward a campaign gives a member: stable `key` per campaign and member, its instant and points.

    `points` is the full bonus (before any refund of the purchase it is tied to); 0 for code rewards.
    """

    campaign_id: int
    key: str
    at: datetime
    points: int
    purchase_key: str | None = None
    expires_at: datetime | None = None


@dataclass(slots=True)
class Found:
    """Occasions up to now, and the next instant one falls due (for the member's next upkeep)."""

    occasions: list[Occasion] = field(default_factory=list)
    next_at: datetime | None = None

    def later(self, at: datetime) -> None:
        self.next_at = at if self.next_at is None else min(self.next_at, at)


def in_holdout(campaign_id: int, member_id: int, pct: int) -> bool:
    """Whether the member is kept out of the campaign (same answer every time; `pct` of members)."""
    if pct <= 0:
        return False
    digest = hashlib.sha256(f"tsunagu-holdout:{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < pct * 100


def proportional(points: int, gross: Decimal, net: Decimal) -> int:
    """A purchase bonus after refunds: its share of what is left of the purchase, rounded down."""
    if gross <= 0 or net <= 0:
        return 0
    if net >= gross:
        return points
    return int((Decimal(points) * net / gross).to_integral_value(ROUND_FLOOR))


def multiplier_bonus(sale: Sale, multiplier: Decimal) -> int:
    """The extra points a multiplier campaign gives on top of the purchase's own."""
    boosted = order_points(sale.gross, sale.earn_rate, sale.rank_multiplier * multiplier)
    return max(boosted - order_points(sale.gross, sale.earn_rate, sale.rank_multiplier), 0)


def matches(rule: CampaignRule, sale: Sale, tz: str) -> bool:
    """Whether a purchase is one a multiplier campaign boosts."""
    if sale.cancelled or not rule.covers(sale.at):
        return False
    if rule.channels and sale.channel not in rule.channels:
        return False
    if rule.locations and sale.location not in rule.locations:
        return False
    if rule.ranks and sale.rank not in rule.ranks:
        return False
    return not rule.weekdays or sale.at.astimezone(ZoneInfo(tz)).weekday() in rule.weekdays


def _points(rule: CampaignRule, points: int) -> int:
    return points if rule.reward == "points" else 0


def occasions(
    rules: Sequence[CampaignRule],
    sales: Sequence[Sale],
    now: datetime,
    tz: str,
    birth_month: int | None = None,
) -> Found:
    """Every occasion the campaigns give this member up to `now`, whatever order the sales arrived in."""
    found = Found()
    ordered = sorted((s for s in sales if not s.cancelled), key=lambda s: (s.at, s.key))
    _multipliers([r for r in rules if r.kind == "multiplier"], ordered, tz, now, found)
    for rule in rules:
        if rule.kind == "first_store_visit":
            first = next((s for s in ordered if s.channel in STORE_CHANNELS), None)
            _purchase_bonus(rule, first, "first_store", now, found)
        elif rule.kind == "first_online_after_store":
            online = next((s for s in ordered if s.channel in ONLINE_CHANNELS), None)
            store_before = online is not None and any(
                s.channel in STORE_CHANNELS and s.at < online.at for s in ordered
            )
            _purchase_bonus(rule, online if store_before else None, "first_online", now, found)
        elif rule.kind == "birthday_month" and birth_month is not None:
            _birthday(rule, birth_month, now, tz, found)
        elif rule.kind == "lapsing" and rule.lapse_days > 0:
            _lapsing(rule, ordered, now, found)
    found.occasions.sort(key=lambda o: (o.at, o.campaign_id, o.key))
    return found


def _multipliers(rules: list[CampaignRule], sales: list[Sale], tz: str, now: datetime, found: Found) -> None:
    for sale in sales:
        if sale.at > now:
            continue
        best: CampaignRule | None = None
        for rule in sorted(rules, key=lambda r: r.id):
            if matches(rule, sale, tz) and (best is None or rule.multiplier > best.multiplier):
                best = rule
        if best is not None:
            points = _points(best, multiplier_bonus(sale, best.multiplier))
            if points or best.reward == "code":
                found.occasions.append(Occasion(best.id, sale.key, sale.at, points, sale.key))


def _purchase_bonus(rule: CampaignRule, sale: Sale | None, key: str, now: datetime, found: Found) -> None:
    if sale is not None and sale.at <= now and rule.covers(sale.at):
        found.occasions.append(Occasion(rule.id, key, sale.at, _points(rule, rule.bonus_points), sale.key))


def _month_start(year: int, month: int, tz: str) -> datetime:
    return datetime.combine(date(year, month, 1), time(0), ZoneInfo(tz))


def _birthday(rule: CampaignRule, month: int, now: datetime, tz: str, found: Found) -> None:
    last_year = (rule.ends_at or now).astimezone(ZoneInfo(tz)).year + 1
    for year in range(rule.starts_at.astimezone(ZoneInfo(tz)).year, last_year + 1):
        begins = _month_start(year, month, tz)
        ends = _month_start(year + (month == 12), month % 12 + 1, tz)
        at = max(begins, rule.starts_at)
        if at >= ends or not rule.covers(at):
            continue
        if at <= now:
            points = _points(rule, rule.bonus_points)
            found.occasions.append(Occasion(rule.id, f"birthday:{year}", at, points, None, _expiry(rule, at)))
        else:
            found.later(at)
            return


def _lapsing(rule: CampaignRule, sales: list[Sale], now: datetime, found: Found) -> None:
    """An occasion for every gap of `lapse_days` without a purchase that reaches into the period."""
    gap = timedelta(days=rule.lapse_days)
    for index, sale in enumerate(sales):
        following = sales[index + 1].at if index + 1 < len(sales) else None
        at = max(sale.at + gap, rule.starts_at)
        if (following is not None and following <= at) or not rule.covers(at):
            continue
        if at <= now:
            points = _points(rule, rule.bonus_points)
            found.occasions.append(
                Occasion(rule.id, f"lapse:{sale.key}", at, points, None, _expiry(rule, at))
            )
        else:
            found.later(at)


def _expiry(rule: CampaignRule, at: datetime) -> datetime | None:
    return at + timedelta(days=rule.bonus_expiry_days) if rule.bonus_expiry_days else None
