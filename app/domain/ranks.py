"""Ranks as a pure function of purchase history and the shop's rules (nothing stored is trusted).

Time model: `held_before(at)` is the rank the member held just before the instant `at` (what a purchase at
`at` earns with); `held_now(now)` includes everything up to and including `now`. Both are deterministic in
the history, so a late or backdated sale only needs the affected instants re-evaluated.

- Qualification: the highest tier whose threshold the metric reaches. Metric = net spend, base points
  (before multipliers, so ranks and points do not feed each other) or purchase count, over the window:
  rolling 365 days, or the current yearly cycle (from `cycle_start_month`, in the shop's time zone).
- Upgrades apply at once. `immediate` downgrades follow the metric (a refund can lower the rank at once).
  `next_cycle` downgrades wait for the next cycle boundary: within a cycle the member keeps the highest rank
  reached; at the boundary the rank becomes what the member qualifies for (`reset`), or at most one tier
  lower than held (`one_tier`).
- A staff rank floor (固定ランク) keeps the member at least at that tier until it expires.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from app.domain.history import PurchaseFact
from app.domain.settings import RankRules, Tier

EPSILON = timedelta(microseconds=1)  # datetimes have microsecond resolution: `< t + 1µs` means `<= t`
ROLLING = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class RankFloor:
    """A staff-set minimum rank, active from `starts_at` until `expires_at` (None: until removed)."""

    handle: str
    starts_at: datetime
    expires_at: datetime | None = None

    def active(self, instant: datetime) -> bool:
        """Whether the floor applies at `instant`."""
        return self.starts_at <= instant and (self.expires_at is None or instant < self.expires_at)


def cycle_start(instant: datetime, rules: RankRules, tz: str) -> datetime:
    """The start of the yearly cycle containing `instant` (midnight of the start month, shop time)."""
    local = instant.astimezone(ZoneInfo(tz))
    year = local.year if local.month >= rules.cycle_start_month else local.year - 1
    return datetime(year, rules.cycle_start_month, 1, tzinfo=ZoneInfo(tz))


def _next_boundary(boundary: datetime, rules: RankRules, tz: str) -> datetime:
    return datetime(boundary.year + 1, rules.cycle_start_month, 1, tzinfo=ZoneInfo(tz))


def metric(
    facts: Iterable[PurchaseFact], rules: RankRules, point_rate: Decimal, cutoff: datetime, tz: str
) -> Decimal:
    """The rank metric over the window ending just before `cutoff`, with refunds known by then."""
    start = cutoff - ROLLING if rules.window == "rolling_365" else cycle_start(cutoff - EPSILON, rules, tz)
    inside = [f for f in facts if start <= f.processed_at < cutoff]
    if rules.basis == "spend":
        return sum((f.net_at(cutoff) for f in inside), Decimal("0"))
    if rules.basis == "points":
        return sum(
            ((f.net_at(cutoff) * point_rate).to_integral_value(ROUND_FLOOR) for f in inside), Decimal("0")
        )
    return Decimal(sum(1 for f in inside if f.net_at(cutoff) > 0))


def tier_for(value: Decimal, rules: RankRules) -> int:
    """Index of the highest tier whose threshold `value` reaches."""
    index = 0
    for i, tier in enumerate(rules.tiers):
        if value >= tier.threshold:
            index = i
    return index


def _qualified(
    facts: Sequence[PurchaseFact], rules: RankRules, rate: Decimal, cutoff: datetime, tz: str
) -> int:
    return tier_for(metric(facts, rules, rate, cutoff, tz), rules)


def _peak(
    facts: Sequence[PurchaseFact],
    rules: RankRules,
    rate: Decimal,
    start: datetime | None,
    cutoff: datetime,
    tz: str,
) -> int:
    """Highest tier qualified for in [start, cutoff): the metric only rises just after a sale."""
    instants = [
        f.processed_at + EPSILON
        for f in facts
        if (start is None or start <= f.processed_at) and f.processed_at < cutoff
    ]
    if start is not None:
        instants.append(start)
    instants = [t for t in instants if t <= cutoff]
    return max((_qualified(facts, rules, rate, t, tz) for t in instants), default=0)


def _held_index(
    facts: Sequence[PurchaseFact], rules: RankRules, rate: Decimal, cutoff: datetime, tz: str
) -> int:
    if rules.downgrade_timing == "immediate" or not facts:
        return _qualified(facts, rules, rate, cutoff, tz)
    earliest = min(f.processed_at for f in facts)
    boundary = _next_boundary(cycle_start(earliest, rules, tz), rules, tz)
    retained, since = 0, None  # rank carried from the last boundary, and that boundary
    while boundary < cutoff:
        held_before_boundary = max(retained, _peak(facts, rules, rate, since, boundary, tz))
        evaluated = _qualified(facts, rules, rate, boundary, tz)
        if evaluated >= held_before_boundary or rules.downgrade_step == "reset":
            retained = evaluated
        else:
            retained = max(evaluated, held_before_boundary - 1)
        since = boundary
        boundary = _next_boundary(boundary, rules, tz)
    return max(retained, _peak(facts, rules, rate, since, cutoff, tz))


def held_before(
    facts: Sequence[PurchaseFact],
    rules: RankRules,
    point_rate: Decimal,
    at: datetime,
    tz: str,
    floor: RankFloor | None = None,
) -> Tier:
    """The tier held just before the instant `at` (the rank a purchase at `at` earns with)."""
    index = _held_index(facts, rules, point_rate, at, tz)
    if floor is not None and floor.active(at - EPSILON):
        index = max(index, rules.index(floor.handle))
    return rules.tiers[index]


def held_now(
    facts: Sequence[PurchaseFact],
    rules: RankRules,
    point_rate: Decimal,
    now: datetime,
    tz: str,
    floor: RankFloor | None = None,
) -> Tier:
    """The tier held at `now`, counting everything up to and including `now`."""
    return held_before(facts, rules, point_rate, now + EPSILON, tz, floor)


def next_rank_instant(
    facts: Sequence[PurchaseFact], rules: RankRules, now: datetime, tz: str, floor: RankFloor | None = None
) -> datetime | None:
    """The next instant after `now` the rank can move by time alone: a sale leaving the rolling window, a
    cycle boundary, or a staff floor running out (None when nothing can)."""
    candidates = []
    if rules.window == "rolling_365":
        candidates += [f.processed_at + ROLLING for f in facts if f.processed_at + ROLLING > now]
    if facts and (rules.window == "yearly" or rules.downgrade_timing == "next_cycle"):
        candidates.append(_next_boundary(cycle_start(now, rules, tz), rules, tz).astimezone(UTC))
    if floor is not None and floor.expires_at is not None and floor.expires_at > now:
        candidates.append(floor.expires_at)
    return min(candidates, default=None)


@dataclass(frozen=True, slots=True)
class MemberRankInput:
    """What a preview needs about one member."""

    member_id: int
    current: str
    facts: Sequence[PurchaseFact]
    floor: RankFloor | None = None


@dataclass(frozen=True, slots=True)
class RankPreview:
    """How many members a rules change would move, and where to."""

    up: int
    down: int
    unchanged: int
    moves: dict[tuple[str, str], int]


def preview(
    members: Iterable[MemberRankInput], rules: RankRules, point_rate: Decimal, now: datetime, tz: str
) -> RankPreview:
    """Evaluate every member under `rules` without saving anything; compares with the stored ranks."""
    moves: Counter[tuple[str, str]] = Counter()
    up = down = same = 0
    for member in members:
        new = held_now(member.facts, rules, point_rate, now, tz, member.floor).handle
        if new == member.current:
            same += 1
            continue
        moves[(member.current, new)] += 1
        old_index = (
            rules.index(member.current) if any(t.handle == member.current for t in rules.tiers) else -1
        )
        if rules.index(new) > old_index:
            up += 1
        else:
            down += 1
    return RankPreview(up=up, down=down, unchanged=same, moves=dict(moves))
