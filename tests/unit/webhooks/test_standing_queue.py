"""The edge's burst/overload tell: a brief queue is served up to the budget, a standing one is shed."""

from __future__ import annotations

from app.webhooks.edge import StandingQueue


def _feed(queue: StandingQueue, waits: list[float], start: float, step: float) -> list[bool]:
    return [queue.shed(waited, start + i * step) for i, waited in enumerate(waits)]


def test_a_burst_that_drains_is_not_shed():
    queue = StandingQueue(target=0.1, interval=0.5)
    # Waits climb to 0.8 s and fall back, but each interval has one delivery under the target.
    waits = [0.01, 0.3, 0.8, 0.6, 0.05, 0.4, 0.7, 0.2, 0.02, 0.5]
    assert _feed(queue, waits, start=100.0, step=0.1) == [False] * len(waits)


def test_a_standing_queue_is_shed_until_an_interval_drains():
    queue = StandingQueue(target=0.1, interval=0.5)
    standing = _feed(queue, [0.3] * 12, start=100.0, step=0.1)
    assert standing[:5] == [False] * 5  # the first whole interval is only observed
    assert standing[5:] == [True] * 7  # then every delivery over the target is shed
    assert queue.shed(0.05, 101.25) is False  # under the target: served even while the queue stands
    drained = _feed(queue, [0.02, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], start=101.3, step=0.1)
    assert drained[0] is False and drained[-1] is False  # an interval with a short wait ends the verdict
