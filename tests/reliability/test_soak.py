"""Soak: the web process and a worker under steady webhook load for 40 s (ten minutes with
RELIABILITY_FULL=1) after a warm-up; their memory grows by less than 10 %, and every order is credited once.

The warm-up runs the same load unmeasured: the first orders import modules and fill caches lazily
(phone-number metadata, compiled SQL), which is growth of a different kind. RSS is then sampled every
couple of seconds; "warm" is the median over the first fifth of the measured run, "end" over the last fifth.
"""

from __future__ import annotations

import statistics
import threading
import time

import pytest
from sqlalchemy import func, select

from app.models import InboxEvent, LedgerTransaction, Shop
from emulator.webhook_sender import WebhookSender
from tests.integration.webhooks.support import SECRET, SHOP, later, order_body
from tests.integration.worker.processes import start_worker, stop_workers, wait_until_drained
from tests.reliability.books import books_balance
from tests.reliability.conftest import size
from tests.reliability.processes import children, gunicorn_app, rss_kb

WARM_UP = size(20, 60)
SECONDS = size(40, 600)
RATE = size(5, 10)  # webhooks per second (the quick run stays below what one worker credits on a busy CI box)
SAMPLE_EVERY = 2.0
MAX_GROWTH = 0.10


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_memory_stays_flat_under_steady_load(app, committed, database_url, tmp_path):
    committed.session.add(Shop(domain=SHOP, status="installed"))
    committed.session.commit()
    samples: list[tuple[float, int, int]] = []  # (t, web RSS, worker RSS) in KiB
    with gunicorn_app(database_url, tmp_path / "web.log", workers=2) as (base, web_pid):
        worker = start_worker(database_url, tmp_path / "worker.log", lease_seconds=30)
        sender = WebhookSender(SECRET, base + "/webhooks", max_retries=3, time_scale=0.001)
        failures: list[str] = []
        stop = threading.Event()

        def feed() -> None:
            start = time.monotonic()
            i = 0
            while time.monotonic() - start < WARM_UP + SECONDS:
                time.sleep(max(0.0, start + i / RATE - time.monotonic()))
                body = order_body(500_000 + i, "3000", customer_id=90_000 + i % 500, updated_at=later(1))
                if sender.send(SHOP, "orders/create", body).outcome != "delivered":
                    failures.append(str(i))
                i += 1
            stop.set()

        feeder = threading.Thread(target=feed)
        feeder.start()
        try:
            stop.wait(WARM_UP)
            started = time.monotonic()
            while not stop.is_set():
                web = sum(rss_kb(pid) for pid in [web_pid, *children(web_pid)])
                samples.append((time.monotonic() - started, web, rss_kb(worker.pid)))
                stop.wait(SAMPLE_EVERY)
            feeder.join()
            wait_until_drained(committed.session, timeout=600)
        finally:
            codes = stop_workers([worker])  # also when the inbox did not drain: no orphaned worker

    sent = len(sender.deliveries)
    session = committed.session
    done = session.scalar(select(func.count()).where(InboxEvent.status == "done"))
    earns = session.scalar(select(func.count()).where(LedgerTransaction.kind == "earn"))
    fifth = max(1, len(samples) // 5)
    growth = {}
    for column, name in ((1, "web"), (2, "worker")):
        warm = statistics.median(s[column] for s in samples[:fifth])
        end = statistics.median(s[column] for s in samples[-fifth:])
        growth[name] = (warm / 1024, end / 1024, end / warm - 1)
    print(
        f"\nsoak {WARM_UP} + {SECONDS} s at {RATE}/s: {sent} webhooks, {done} done, {earns} credits; RSS MiB "
        + ", ".join(f"{n} {w:.0f} -> {e:.0f} ({g:+.1%})" for n, (w, e, g) in growth.items())
    )
    assert failures == [] and codes == [0]
    assert done == sent and earns == sent
    assert books_balance(committed.session) > 0  # each member's cached balance equals its ledger
    assert all(g < MAX_GROWTH for _, _, g in growth.values()), growth
