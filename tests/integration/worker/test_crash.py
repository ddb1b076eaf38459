"""kill -9 at random points: nothing is lost and nothing is credited twice.

Worker processes are killed without warning while they process 2,000 order events; replacements pick up
the rows whose lease ran out. On SQLite one worker runs at a time (the supported setup), on PostgreSQL two.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.models import InboxEvent, LedgerPosting, LedgerTransaction, Purchase, Shop
from emulator.webhook_sender import WebhookSender
from scripts.pgtemp import backend
from tests.integration.webhooks.support import SECRET, SHOP, later, order_body
from tests.integration.worker.processes import (
    open_rows,
    relax_durability,
    start_worker,
    stop_workers,
    wait_until_started,
)

EVENTS = 3000  # enough work that a fast worker is still killed at least five times
LEASE_SECONDS = 2.0


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_9_at_random_points_loses_nothing_and_credits_nothing_twice(
    app, committed, database_url, tmp_path
):
    relax_durability(committed)
    committed.session.add(Shop(domain=SHOP, status="installed"))
    committed.session.commit()
    rng = random.Random(9)
    values = [rng.randrange(1000, 9000, 100) for _ in range(EVENTS)]
    sender = WebhookSender(SECRET, app, max_retries=0)
    for i, amount in enumerate(values):
        body = order_body(200_000 + i, str(amount), customer_id=60_000 + i // 2, updated_at=later(i % 30))
        assert sender.send(SHOP, "orders/create", body).outcome == "delivered"

    slots = 2 if backend() == "postgres" else 1
    spawned = 0

    logs: list[Path] = [tmp_path / f"worker{i}.log" for i in range(slots)]

    def spawn(slot: int):
        nonlocal spawned
        spawned += 1
        logs[slot] = tmp_path / f"worker{spawned}.log"
        return start_worker(database_url, logs[slot], lease_seconds=LEASE_SECONDS)

    workers = [spawn(slot) for slot in range(slots)]
    kills = 0
    deadline = time.monotonic() + 1500
    try:
        while open_rows(committed.session) and time.monotonic() < deadline:
            victim = rng.randrange(len(workers))
            # Start-up (importing the app) takes seconds on a busy machine: kill only a worker that is in its
            # loop, at a random moment of it.
            wait_until_started(logs[victim], timeout=120)
            time.sleep(rng.uniform(0.5, 3.0))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            workers[victim] = spawn(victim)
    finally:
        stop_workers(workers)
    session = committed.session
    session.rollback()
    print(f"\n{EVENTS} events, {kills} workers killed with SIGKILL, {spawned} started")
    assert kills >= 5
    assert open_rows(session) == 0
    statuses = dict(
        session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
    )
    assert statuses == {"done": EVENTS}
    assert session.scalar(select(func.count()).where(LedgerTransaction.kind == "earn")) == EVENTS
    assert session.scalar(select(func.count()).select_from(Purchase)) == EVENTS
    assert session.scalar(select(func.sum(Purchase.points))) == sum(v // 100 for v in values)
    assert session.scalar(select(func.sum(LedgerPosting.points))) == 0  # the books balance
    # Some rows really were interrupted and taken over (more than one attempt).
    assert session.scalar(select(func.count()).where(InboxEvent.attempts > 1)) > 0
