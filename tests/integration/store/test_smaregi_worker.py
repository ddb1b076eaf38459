"""The real worker loop (claim, dispatch, complete, retry) runs Smaregi rows through the handler table."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.dispatch import dispatch
from app.jobs.inbox import RetryPolicy
from app.jobs.worker import Worker, WorkerConfig
from app.models.inbox import InboxEvent, InboxStatus
from tests.integration.store.conftest import CONTRACT
from tests.integration.store.helpers import deliver, store_member


def worker(app) -> Worker:
    return Worker(
        app,
        WorkerConfig(lease_seconds=60, batch_size=10, idle_sleep=0, retry=RetryPolicy()),
        "w-store",
        handle=dispatch,
    )


def test_the_worker_credits_a_smaregi_sale(app, client, session, shop, connected, smaregi):
    member = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    deliver(
        client,
        smaregi,
        "pos:transactions",
        "created",
        [smaregi.ring_sale(CONTRACT, "1", 4000, datetime.now(UTC), member)],
    )
    session.commit()
    assert worker(app).run(once=True) == 1
    assert session.scalar(select(InboxEvent.status)) == InboxStatus.DONE
    assert store_member(session, shop, "C0001").points_pending == 40


def test_a_smaregi_outage_is_retried_later_with_a_reason(app, client, session, shop, connected, smaregi):
    member = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    deliver(
        client,
        smaregi,
        "pos:transactions",
        "created",
        [smaregi.ring_sale(CONTRACT, "1", 4000, datetime.now(UTC), member)],
    )
    session.commit()
    smaregi.fail_next = [503]
    worker(app).run(once=True)
    row = session.scalar(select(InboxEvent))
    session.refresh(row)
    assert (row.status, row.attempts) == (InboxStatus.PENDING, 1)
    assert row.last_error.startswith("SmaregiError") and row.next_attempt_at > datetime.now(UTC)
    assert store_member(session, shop, "C0001") is None  # nothing half-applied
