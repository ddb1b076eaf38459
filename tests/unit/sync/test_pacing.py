"""Pacing from the cost reports: wait only as long as the bucket needs, back off with jitter, retry 5xx."""

from __future__ import annotations

import random

import pytest

from app.shopify.errors import ShopifyThrottled, ShopifyUnavailable, ShopifyUserErrors
from app.shopify.pacing import CostPacer, paced_execute


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def cost(available: float, requested: float = 10, restore: float = 100) -> dict:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": requested,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": available,
            "restoreRate": restore,
        },
    }


class ScriptedClient:
    """Answers in turn with the given outcomes (dicts are costs of a success, exceptions are raised)."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.last_cost = None
        self.calls = 0

    def execute(self, document, variables):
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            self.last_cost = getattr(outcome, "cost", None) or self.last_cost
            raise outcome
        self.last_cost = outcome
        return {"ok": True}


def pacer(clock: Clock, **kwargs) -> CostPacer:
    return CostPacer.for_plan("standard", clock=clock, sleep=clock.sleep, rng=random.Random(1), **kwargs)


def test_no_wait_while_the_bucket_is_above_the_reserve():
    clock = Clock()
    p = pacer(clock)
    p.observe(cost(available=1500))
    assert p.wait_for(10) == 0 and clock.slept == []


def test_waits_exactly_until_cost_plus_reserve_is_restored():
    clock = Clock()
    p = pacer(clock)
    p.observe(cost(available=300))  # reserve is 400: needs 410, has 300, restores 100/s
    assert p.wait_for(10) == pytest.approx(1.1)
    clock.now += 5  # time passes on its own: the estimate refills
    assert p.wait_for(10) == 0


def test_restore_rate_and_maximum_follow_what_shopify_reports():
    p = CostPacer.for_plan("standard")
    p.observe(cost(available=0, restore=1000))
    assert p.restore_rate == 1000 and CostPacer.for_plan("plus").restore_rate == 1000
    assert CostPacer.for_plan("unknown-plan").restore_rate == 100


def test_throttled_backs_off_with_jitter_then_succeeds():
    clock = Clock()
    throttled = ShopifyThrottled("THROTTLED", cost=cost(available=2, requested=10))
    client = ScriptedClient(throttled, cost(available=500))
    p = pacer(clock)
    assert paced_execute(client, p, "metafields_set", {}) == {"ok": True}
    assert p.throttled == 1 and client.calls == 2
    # Waited for cost + reserve (408 points at 100/s) times a jitter factor between 1 and 1.5.
    assert 4.08 <= clock.slept[0] <= 4.08 * 1.5


def test_unavailable_is_retried_with_exponential_backoff_then_given_up():
    clock = Clock()
    client = ScriptedClient(*(ShopifyUnavailable("503", status=503) for _ in range(3)), cost(available=1900))
    p = pacer(clock)
    assert paced_execute(client, p, "metafields_set", {}) == {"ok": True}
    assert p.retried == 3 and clock.slept[0] < clock.slept[2]
    failing = ScriptedClient(*(ShopifyUnavailable("502", status=502) for _ in range(6)))
    with pytest.raises(ShopifyUnavailable):
        paced_execute(failing, pacer(Clock()), "metafields_set", {}, max_attempts=6)
    assert failing.calls == 6


def test_user_errors_are_not_retried():
    client = ScriptedClient(ShopifyUserErrors("metafieldsSet", [{"message": "bad"}], {}))
    with pytest.raises(ShopifyUserErrors):
        paced_execute(client, pacer(Clock()), "metafields_set", {})
    assert client.calls == 1
