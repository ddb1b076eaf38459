"""How far a member is from the next rank, in the unit the shop ranks by (pure: no database).

The metric is the one ranks are decided on (app/domain/ranks.py `metric`): net spend, base points or the
number of purchases, over the shop's window (rolling 365 days or the current yearly cycle). The next rank is
the tier above the one the member holds, which can be above what the metric alone qualifies for (a staff
floor, or a rank kept until the cycle ends), so the distance is always to a tier the member does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.domain.history import PurchaseFact
from app.domain.ranks import EPSILON, ROLLING, cycle_start, metric
from app.domain.settings import RankBasis, RankRules, RankWindow

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class RankProgress:
    """The member's standing: current tier, the next one and what is still missing (None at the top)."""

    basis: RankBasis
    current: str
    next: str | None
    value: Decimal  # the metric so far, in the basis unit (money, points or purchases)
    remaining: Decimal | None  # still needed for `next` (None at the top rank)
    share: float  # 0..1 of the way from the current tier's threshold to the next one (1 at the top)
    window: RankWindow
    window_start: datetime  # the first instant that counts

    @property
    def top(self) -> bool:
        """Whether the member holds the highest rank."""
        return self.next is None


def window_start(rules: RankRules, now: datetime, tz: str) -> datetime:
    """The first instant the window ending now counts from."""
    if rules.window == "rolling_365":
        return now + EPSILON - ROLLING
    return cycle_start(now, rules, tz)


def progress(
    facts: Sequence[PurchaseFact], rules: RankRules, point_rate: Decimal, held: str, now: datetime, tz: str
) -> RankProgress:
    """The progress of a member holding the tier `held` at `now` (an unknown handle counts as the lowest)."""
    value = metric(facts, rules, point_rate, now + EPSILON, tz)
    index = rules.index(held)
    current = rules.tiers[index]
    start = window_start(rules, now, tz)
    if index + 1 >= len(rules.tiers):
        return RankProgress(rules.basis, current.handle, None, value, None, 1.0, rules.window, start)
    upcoming = rules.tiers[index + 1]
    remaining = max(upcoming.threshold - value, ZERO)
    if rules.basis != "spend":
        remaining = remaining.to_integral_value()  # points and purchases come whole
    span = upcoming.threshold - current.threshold
    share = float(min(max((value - current.threshold) / span, ZERO), Decimal(1))) if span > 0 else 0.0
    return RankProgress(
        rules.basis, current.handle, upcoming.handle, value, remaining, share, rules.window, start
    )
