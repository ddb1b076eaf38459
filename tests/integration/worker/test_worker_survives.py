"""The worker process never dies of one failure: whatever escapes a turn of its loop is logged, the loop
pauses and goes on (database outages are the outage test's, tests/reliability/test_postgres_restart.py)."""

from __future__ import annotations

from sqlalchemy import select

from app.dispatch import dispatch
from app.jobs import inbox
from app.jobs.inbox import RetryPolicy
from app.jobs.worker import Worker, WorkerConfig
from app.models import InboxEvent
from tests.integration.webhooks.support import order_body, post


def test_an_error_escaping_a_turn_of_the_loop_is_logged_and_the_loop_goes_on(
    app, client, session, shop, monkeypatch, caplog
):
    post(client, "orders/create", order_body(701, "5000"))
    real_claim, calls = inbox.claim, []

    def claim(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # a library failing in a way nobody planned for, once
            raise RuntimeError("unexpected answer naming buyer@example.com")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(inbox, "claim", claim)
    config = WorkerConfig(lease_seconds=60, batch_size=10, idle_sleep=0, retry=RetryPolicy())
    worker = Worker(app, config, worker_id="w1", handle=dispatch)
    assert worker.run(once=True) == 0  # the failed turn: logged, not raised
    assert worker.run(once=True) == 1  # the same process object carries on
    session.expire_all()
    assert session.scalars(select(InboxEvent.status)).one() == "done"
    failed = [r.getMessage() for r in caplog.records if "worker loop failed" in r.getMessage()]
    assert failed and "RuntimeError" in failed[0] and "example.com" not in failed[0]
