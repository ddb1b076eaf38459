"""A row that kills its worker every time it runs costs only itself: the rest of its batch is processed.

Attempts are counted per row started, not per claim, so the rows claimed with the poison row and never
started come back through the expired lease untouched. Real `flask worker` processes (one at a time, as on
SQLite), a batch of ten rows: orders, a refund and a customers/redact, the fifth of them the poison row.
"""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import select

from app.models import InboxEvent, Shop
from emulator.webhook_sender import WebhookSender
from tests.integration.webhooks.support import SECRET, SHOP, order_body, refund_body
from tests.integration.worker.poison_app import POISON_ORDER
from tests.integration.worker.processes import ROOT, open_rows, relax_durability, worker_env

MAX_ATTEMPTS = 3
LEASE_SECONDS = 1.0


def _worker(database_url: str, log_path):
    env = dict(worker_env(database_url), FLASK_APP="tests.integration.worker.poison_app:create_app")
    args = [
        sys.executable, "-m", "flask", "worker", "--once", "--lease-seconds", str(LEASE_SECONDS),
        "--idle-sleep", "0.05", "--batch-size", "10", "--max-attempts", str(MAX_ATTEMPTS),
    ]  # fmt: skip
    with log_path.open("ab") as log:
        return subprocess.run(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=120)


def test_a_row_that_kills_its_worker_dead_letters_alone(app, committed, database_url, tmp_path):
    relax_durability(committed)
    committed.session.add(Shop(domain=SHOP, status="installed"))
    committed.session.commit()
    sender = WebhookSender(SECRET, app, max_retries=0)
    deliveries = [
        ("orders/create", order_body(930_000 + i, "5000", customer_id=71_000 + i)) for i in range(8)
    ]
    deliveries.insert(4, ("orders/create", order_body(int(POISON_ORDER), "5000", customer_id=71_100)))
    deliveries.append(("refunds/create", refund_body(940_001, 930_001, "1000")))
    deliveries.append(
        ("customers/redact", {"shop_domain": SHOP, "customer": {"id": 71_002}, "orders_to_redact": []})
    )
    for topic, body in deliveries:
        assert sender.send(SHOP, topic, body).outcome == "delivered"
    assert (
        committed.session.scalar(select(InboxEvent.resource_id).order_by(InboxEvent.id).offset(4))
        == POISON_ORDER
    )

    runs = 0
    while open_rows(committed.session) and runs < 3 * MAX_ATTEMPTS:
        runs += 1
        _worker(database_url, tmp_path / "worker.log")  # dies at the poison row, or drains the batch
        time.sleep(LEASE_SECONDS + 0.2)  # the dead worker's lease runs out
    session = committed.session
    session.rollback()
    rows = list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
    poison = rows.pop(4)
    assert poison.resource_id == POISON_ORDER
    assert (poison.status, poison.attempts) == ("dead", MAX_ATTEMPTS + 1), [
        (r.resource_id, r.status, r.attempts) for r in rows
    ]
    assert "worker died" in poison.last_error
    details = [(r.topic, r.resource_id, r.status, r.attempts, r.last_error) for r in rows]
    assert {(r.topic, r.status) for r in rows} <= {
        ("orders/create", "done"), ("refunds/create", "done"), ("customers/redact", "done"),
        ("customers/redact", "ignored"),
    }, details  # fmt: skip
    assert len(rows) == 10 and all(r.attempts == 1 for r in rows), [
        (r.topic, r.status, r.attempts, r.last_error) for r in rows
    ]
