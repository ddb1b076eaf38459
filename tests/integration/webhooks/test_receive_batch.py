"""Group commit at the webhook edge: deliveries waiting while a commit runs share the next one, each still
answered only once its row is written. Real commits on the test database (the `committed` fixture)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import func, select

from app.jobs.inbox import Delivery, InboxBusy, InboxWriter
from app.models import InboxEvent
from app.webhooks.batch import GroupCommit

SHOP = "batch-shop.myshopify.com"


def _delivery(delivery_id: str | None = None, shop_id: int | None = None) -> Delivery:
    return Delivery(
        shop_domain=SHOP,
        topic="orders/create",
        delivery_id=delivery_id or str(uuid.uuid4()),
        payload='{"id": 1}',
        shop_id=shop_id,
    )


@pytest.fixture
def group(app, committed):
    """A group commit whose first (lone) delivery blocks until the test releases it."""
    url = committed.engine.url.render_as_string(False)
    writer = InboxWriter(url, app.config["SQLALCHEMY_ENGINE_OPTIONS"], size=4, wait_seconds=0.05)
    group = GroupCommit(writer, wait_seconds=5.0)
    group.release = threading.Event()
    group.entered = threading.Event()
    single = writer.write

    def held(delivery: Delivery) -> bool:
        if delivery.delivery_id == "first":
            group.entered.set()
            assert group.release.wait(10)
        return single(delivery)

    writer.write = held  # type: ignore[method-assign]
    yield group
    writer.dispose()


def _start(group: GroupCommit, deliveries: list[Delivery]) -> tuple[list[threading.Thread], list]:
    """One thread per delivery; results[i] is the i-th delivery's answer (True, False or its exception)."""
    results: list[object] = [None] * len(deliveries)

    def one(i: int, delivery: Delivery) -> None:
        try:
            results[i] = group.write(delivery)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i, d)) for i, d in enumerate(deliveries)]
    for thread in threads:
        thread.start()
    return threads, results


def _queued(group: GroupCommit, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(group._queue) < count:
        assert time.monotonic() < deadline, "the deliveries never queued"
        time.sleep(0.005)


def _stored(committed) -> set[str]:
    ids = set(committed.session.scalars(select(InboxEvent.delivery_id)))
    committed.session.rollback()
    return ids


def test_deliveries_waiting_on_a_commit_share_the_next_one(group, committed):
    lead, lead_results = _start(group, [_delivery("first")])
    assert group.entered.wait(5)
    waiting = [_delivery(f"queued-{i}") for i in range(5)] + [_delivery("queued-0")]  # a retry, same id
    threads, results = _start(group, waiting)
    _queued(group, 6)
    group.release.set()
    for thread in lead + threads:
        thread.join(10)
    assert lead_results == [True]
    assert results.count(True) == 5 and results.count(False) == 1  # one of the two queued-0 is the duplicate
    assert (group.batches, group.rows) == (2, 7)  # the lone first, then all six waiting in one statement
    assert _stored(committed) == {"first"} | {f"queued-{i}" for i in range(5)}


def test_a_delivery_not_taken_within_the_wait_is_withdrawn_and_not_stored(group, committed):
    group.wait_seconds = 0.05
    lead, _ = _start(group, [_delivery("first")])
    assert group.entered.wait(5)
    threads, results = _start(group, [_delivery("late")])
    threads[0].join(5)
    assert isinstance(results[0], InboxBusy)
    group.release.set()
    lead[0].join(10)
    assert group._queue == [] and not group._busy
    assert _stored(committed) == {"first"}


def test_one_bad_row_does_not_fail_its_batch(group, committed):
    lead, _ = _start(group, [_delivery("first")])
    assert group.entered.wait(5)
    bad = _delivery("bad", shop_id=987_654)  # no such shop: the foreign key refuses the row
    threads, results = _start(group, [_delivery("good-1"), bad, _delivery("good-2")])
    _queued(group, 3)
    group.release.set()
    for thread in lead + threads:
        thread.join(10)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], Exception)
    assert _stored(committed) == {"first", "good-1", "good-2"}
    assert committed.session.scalar(select(func.count()).select_from(InboxEvent)) == 3
