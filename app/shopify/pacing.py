"""Per-shop pacing from Shopify's cost reports: use the GraphQL bucket without running into THROTTLED.

Shopify meters every app per shop with a leaky bucket (https://shopify.dev/docs/api/usage/limits): 2000
points, restored at 100/200/1000/2000 points per second by plan, each response reporting `extensions.cost`.
The bucket is shared by every process of the app for that shop (syncer, reconciliation, backfill,
dashboard), so the pacer leaves a reserve for the others and re-reads the real level after every call
instead of trusting its own book-keeping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.shopify.errors import ShopifyThrottled, ShopifyUnavailable

PLAN_RESTORE_RATES: dict[str, float] = {
    "standard": 100.0,
    "advanced": 200.0,
    "plus": 1000.0,
    "enterprise": 2000.0,
}
BUCKET_MAXIMUM = 2000.0
MUTATION_COST = 10.0  # Shopify charges 10 points per mutation field
MAX_ATTEMPTS = 6
UNAVAILABLE_BASE_DELAY = 0.5  # seconds; doubles per attempt (429/5xx/network), with jitter
UNAVAILABLE_MAX_DELAY = 30.0


@dataclass
class CostPacer:
    """Knows (roughly) how full one shop's bucket is and waits before a call that would overdraw it."""

    restore_rate: float = PLAN_RESTORE_RATES["standard"]
    maximum: float = BUCKET_MAXIMUM
    # Kept free for the shop's other callers (webhook reconciliation, dashboard reads, redemptions).
    reserve_fraction: float = 0.2
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    available: float | None = None  # last reported level; None until the first response
    observed_at: float = 0.0
    throttled: int = 0
    retried: int = 0
    waited: float = 0.0

    @classmethod
    def for_plan(cls, plan: str | None, **kwargs: Any) -> CostPacer:
        """A pacer for a shop's plan (unknown plans get the Standard rate until Shopify reports otherwise)."""
        return cls(
            restore_rate=PLAN_RESTORE_RATES.get(plan or "standard", PLAN_RESTORE_RATES["standard"]), **kwargs
        )

    @property
    def reserve(self) -> float:
        return self.maximum * self.reserve_fraction

    def estimate(self) -> float:
        """Points available now, projected from the last report at the restore rate."""
        if self.available is None:
            return self.maximum
        elapsed = max(0.0, self.clock() - self.observed_at)
        return min(self.maximum, self.available + elapsed * self.restore_rate)

    def delay_for(self, cost: float) -> float:
        """Seconds to wait so that `cost` can be spent while the reserve stays untouched."""
        needed = min(cost + self.reserve, self.maximum)
        short = needed - self.estimate()
        return 0.0 if short <= 0 else short / self.restore_rate

    def wait_for(self, cost: float) -> float:
        """Sleep until `cost` fits; returns the seconds slept."""
        delay = self.delay_for(cost)
        if delay > 0:
            self.sleep(delay)
            self.waited += delay
        return delay

    def observe(self, cost: dict[str, Any] | None) -> None:
        """Take the level, maximum and restore rate from a response's `extensions.cost`."""
        status = (cost or {}).get("throttleStatus") or {}
        if not status:
            return
        if status.get("restoreRate"):
            self.restore_rate = float(status["restoreRate"])
        if status.get("maximumAvailable"):
            self.maximum = float(status["maximumAvailable"])
        if status.get("currentlyAvailable") is not None:
            self.available = float(status["currentlyAvailable"])
            self.observed_at = self.clock()

    def after_throttled(self, exc: ShopifyThrottled, attempt: int) -> float:
        """Back off after THROTTLED: until the bucket refills what was asked plus the reserve, with jitter."""
        self.throttled += 1
        self.observe(exc.cost)
        requested = float(exc.cost.get("requestedQueryCost") or MUTATION_COST)
        base = max(self.delay_for(requested), exc.retry_after, 0.1 * (2**attempt))
        # Jitter spreads the retries of processes that were throttled together.
        delay: float = base * (1.0 + self.rng.uniform(0.0, 0.5))
        self.sleep(delay)
        self.waited += delay
        return delay

    def after_unavailable(self, attempt: int) -> float:
        """Back off after 429/5xx/network trouble: exponential with full jitter, capped."""
        self.retried += 1
        cap = min(UNAVAILABLE_MAX_DELAY, UNAVAILABLE_BASE_DELAY * (2**attempt))
        delay = self.rng.uniform(cap / 2, cap)
        self.sleep(delay)
        self.waited += delay
        return delay


def paced_execute(
    client: Any,
    pacer: CostPacer,
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    expected_cost: float = MUTATION_COST,
    max_attempts: int = MAX_ATTEMPTS,
) -> dict[str, Any]:
    """Run one document through `client` (an AdminClient) paced by `pacer`, retrying what is transient.

    THROTTLED and 429/5xx are retried up to `max_attempts`; user errors, auth and GraphQL errors are not.
    """
    end_transaction = getattr(client, "end_transaction", None)
    for attempt in range(max_attempts):
        if end_transaction is not None:
            end_transaction()  # no transaction waits out the pacer (AdminClient.end_transaction says why)
        pacer.wait_for(expected_cost)
        try:
            data: dict[str, Any] = client.execute(document, variables or {})
        except ShopifyThrottled as exc:
            if attempt == max_attempts - 1:
                raise
            pacer.after_throttled(exc, attempt)
            continue
        except ShopifyUnavailable:
            if attempt == max_attempts - 1:
                raise
            pacer.after_unavailable(attempt)
            continue
        finally:
            pacer.observe(getattr(client, "last_cost", None))
        return data
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
