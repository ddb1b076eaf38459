"""Many deliveries, many worker processes: every order is credited exactly once.

Real processes (`flask worker`) share the committed PostgreSQL database and claim with SKIP LOCKED while
deliveries keep arriving through POST /webhooks from several threads.
"""

from __future__ import annotations

import os
import random
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import InboxEvent, LedgerTransaction, Purchase, Shop
from emulator.webhook_sender import WebhookSender
from tests.integration.webhooks.support import SECRET, SHOP, later, order_body
from tests.integration.worker.processes import (
    relax_durability,
    start_worker,
    stop_workers,
    wait_until_drained,
)

# The acceptance size; TSUNAGU_CONCURRENCY_ORDERS shrinks it for a quick local run.
ORDERS = int(os.environ.get("TSUNAGU_CONCURRENCY_ORDERS", "10000"))
WORKERS = 4
SENDER_THREADS = 4


def amounts(n: int) -> list[int]:
    """Order amounts that keep every member in the base rank (1 point per 100 JPY, no multiplier)."""
    rng = random.Random(10)
    return [rng.randrange(1000, 9000, 100) for _ in range(n)]


def deliver(app, bodies: list[dict], failures: list[str]) -> None:
    """Each order three times: the same delivery twice (a Shopify retry), then orders/paid (a new id)."""
    retried = WebhookSender(SECRET, app, duplicate=2, max_retries=0)
    paid = WebhookSender(SECRET, app, max_retries=0)
    for body in bodies:
        for delivery in (retried.send(SHOP, "orders/create", body), paid.send(SHOP, "orders/paid", body)):
            if delivery.outcome != "delivered":
                failures.append(delivery.webhook_id)
    failures.extend(d.webhook_id for d in retried.deliveries if d.outcome != "delivered")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_10k_orders_delivered_three_times_through_four_workers_credit_exactly_once(
    app, committed, database_url, tmp_path
):
    relax_durability(committed)
    committed.session.add(Shop(domain=SHOP, status="installed"))
    committed.session.commit()
    values = amounts(ORDERS)
    bodies = [
        order_body(
            100_000 + i, str(amount), customer_id=50_000 + i % (ORDERS // 2 or 1), updated_at=later(i % 60)
        )
        for i, amount in enumerate(values)
    ]
    started = time.monotonic()
    workers = [start_worker(database_url, tmp_path / f"worker{i}.log") for i in range(WORKERS)]
    try:
        failures: list[str] = []
        threads = [
            threading.Thread(target=deliver, args=(app, bodies[i::SENDER_THREADS], failures), daemon=True)
            for i in range(SENDER_THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        delivered_in = time.monotonic() - started
        wait_until_drained(committed.session, timeout=1800)
        elapsed = time.monotonic() - started
    finally:
        codes = stop_workers(workers)
    session = committed.session
    print(f"\n{ORDERS} orders x3 deliveries: sent in {delivered_in:.1f} s, all processed in {elapsed:.1f} s")
    assert failures == []
    assert codes == [0] * WORKERS  # every worker left cleanly on SIGTERM
    statuses = dict(
        session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
    )
    assert statuses == {"done": 2 * ORDERS}  # the retried copy was deduplicated at the door
    assert session.scalar(select(func.count()).where(LedgerTransaction.kind == "earn")) == ORDERS
    assert session.scalar(select(func.count()).select_from(Purchase)) == ORDERS
    assert session.scalar(select(func.sum(Purchase.points))) == sum(v // 100 for v in values)
    assert session.scalar(select(func.sum(Purchase.gross_amount))) == Decimal(sum(values))
    # Every worker took part (SKIP LOCKED shares the work rather than serialising it).
    assert len(set(session.scalars(select(InboxEvent.locked_by)))) == WORKERS
