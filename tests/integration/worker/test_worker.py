"""The inbox worker: a transaction per row, leases, backoff, dead letters, stop, replay, operator commands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app import dispatch as handlers
from app.dispatch import dispatch
from app.jobs import inbox
from app.jobs.inbox import RetryPolicy
from app.jobs.worker import Worker, WorkerConfig
from app.models import InboxEvent, LedgerTransaction, Purchase, Shop
from app.models.types import utcnow
from tests.integration.webhooks.support import order_body, post


def make_worker(app, worker_id: str = "w1", **retry) -> Worker:
    config = WorkerConfig(lease_seconds=60, batch_size=10, idle_sleep=0, retry=RetryPolicy(**retry))
    return Worker(app, config, worker_id=worker_id, handle=dispatch)


def only_row(session) -> InboxEvent:
    session.expire_all()
    return session.scalars(select(InboxEvent)).one()


def make_due(session) -> None:
    session.execute(update(InboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    session.commit()


def test_an_order_webhook_is_credited_and_marked_done(app, client, session, shop):
    assert post(client, "orders/create", order_body(501, "12000")).status_code == 200
    assert make_worker(app).run(once=True) == 1
    row = only_row(session)
    assert (row.status, row.attempts, row.locked_by is not None, row.lease_expires_at) == (
        "done",
        1,
        True,
        None,
    )
    purchase = session.scalars(select(Purchase)).one()
    assert (purchase.source_id, purchase.gross_amount) == ("501", 12000)
    assert session.scalar(select(func.count()).where(LedgerTransaction.kind == "earn")) == 1


def test_a_transient_failure_backs_off_and_keeps_a_reason_without_personal_data(
    app, client, session, shop, monkeypatch
):
    def boom(*args):
        raise RuntimeError("cannot reach buyer@example.com")

    monkeypatch.setitem(handlers.HANDLERS, "orders/create", boom)
    post(client, "orders/create", order_body(502))
    before = utcnow()
    make_worker(app, base_seconds=30).run(once=True)
    row = only_row(session)
    assert row.status == "pending" and row.attempts == 1 and row.locked_by is None
    assert before + timedelta(seconds=14) < row.next_attempt_at <= utcnow() + timedelta(seconds=30)
    assert row.last_error.startswith("RuntimeError at test_worker.py:")
    assert "example.com" not in row.last_error
    assert make_worker(app).run(once=True) == 0  # not due yet


def test_dead_letter_after_max_attempts(app, client, session, shop, monkeypatch):
    monkeypatch.setitem(handlers.HANDLERS, "orders/create", lambda *a: 1 / 0)
    post(client, "orders/create", order_body(503))
    for _ in range(3):
        make_worker(app, max_attempts=3).run(once=True)
        make_due(session)
    row = only_row(session)
    assert (row.status, row.attempts) == ("dead", 3)
    assert row.last_error.startswith("ZeroDivisionError")


def test_a_malformed_body_is_dead_at_once(app, client, session, shop):
    body = order_body(504)
    del body["updated_at"]
    post(client, "orders/create", body)
    make_worker(app).run(once=True)
    row = only_row(session)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "NormaliseError: order.updated_at is missing"


def test_an_expired_lease_is_claimed_again_and_the_late_worker_rolls_back(app, client, session, shop):
    post(client, "orders/create", order_body(505, "5000"))
    slow, fast = make_worker(app, "slow"), make_worker(app, "fast")
    with app.app_context():
        assert inbox.claim(session, "slow", limit=5, lease_seconds=60) == [only_row(session).id]
        assert inbox.claim(session, "fast", limit=5, lease_seconds=60) == []  # the lease holds
        session.execute(update(InboxEvent).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
        row_id = only_row(session).id
        assert inbox.claim(session, "fast", limit=5, lease_seconds=60) == [row_id]
        assert slow.process(row_id) == "lost"
        assert session.scalar(select(func.count()).select_from(Purchase)) == 0
        assert fast.process(row_id) == "done"
    row = only_row(session)
    # One attempt: the slow worker's claim ran out before it started the row (claims count no attempt).
    assert (row.status, row.attempts, row.locked_by) == ("done", 1, "fast")
    assert session.scalar(select(func.count()).select_from(Purchase)) == 1


def test_a_row_whose_worker_keeps_dying_is_dead_lettered(app, client, session, shop):
    post(client, "orders/create", order_body(506))
    # Eight workers claimed it and died (kill -9, OOM): processing, lease run out, attempts used up.
    session.execute(
        update(InboxEvent).values(
            status="processing",
            attempts=8,
            locked_by="gone",
            lease_expires_at=utcnow() - timedelta(seconds=1),
        )
    )
    session.commit()
    make_worker(app, max_attempts=8).run(once=True)
    row = only_row(session)
    assert (row.status, row.attempts) == ("dead", 9)
    assert "lease expired on every attempt" in row.last_error
    assert session.scalar(select(func.count()).select_from(Purchase)) == 0


def test_stop_finishes_the_current_row_and_gives_back_the_rest(app, client, session, shop, monkeypatch):
    worker = make_worker(app)
    seen: list[str] = []

    def first_then_stop(s, shop_, row, body):
        seen.append(row.resource_id)
        worker.stop()  # SIGTERM arrives while this row is in hand
        return "done"

    monkeypatch.setitem(handlers.HANDLERS, "orders/create", first_then_stop)
    for order_id in (601, 602, 603):
        post(client, "orders/create", order_body(order_id))
    worker.run()
    session.expire_all()
    rows = list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
    assert seen == ["601"]
    assert [(r.status, r.attempts, r.locked_by) for r in rows] == [
        ("done", 1, "w1"),
        ("pending", 0, None),
        ("pending", 0, None),
    ]


def test_rows_of_an_uninstalled_shop_are_ignored(app, client, session, shop):
    post(client, "orders/create", order_body(507))
    shop.status = "uninstalled"
    session.commit()
    make_worker(app).run(once=True)
    assert only_row(session).status == "ignored"
    assert session.scalar(select(func.count()).select_from(Purchase)) == 0


def test_failed_customer_merge_notices_are_ignored(app, client, session, shop):
    post(
        client,
        "customers/merge",
        {
            "admin_graphql_api_customer_kept_id": "gid://shopify/Customer/1",
            "admin_graphql_api_customer_deleted_id": "gid://shopify/Customer/2",
            "admin_graphql_api_job_id": None,
            "status": "failed",
            "errors": [{"field": "merge_in_progress", "message": "John Doe is currently being merged."}],
        },
    )
    make_worker(app).run(once=True)
    assert only_row(session).status == "ignored"


def test_replay_and_inbox_commands(app, client, session, shop, monkeypatch):
    monkeypatch.setitem(handlers.HANDLERS, "orders/create", lambda *a: 1 / 0)
    post(client, "orders/create", order_body(508, "3000"))
    make_worker(app, max_attempts=1).run(once=True)
    row_id = only_row(session).id
    runner = app.test_cli_runner()
    counts = runner.invoke(args=["inbox", "--dead"])
    assert counts.exit_code == 0
    assert "dead       1" in counts.output and "ZeroDivisionError" in counts.output

    monkeypatch.undo()  # the bug is fixed; the operator replays the row
    replayed = runner.invoke(args=["replay", str(row_id)])
    assert replayed.exit_code == 0 and "pending again" in replayed.output
    make_worker(app).run(once=True)
    assert only_row(session).status == "done"
    assert session.scalar(select(func.count()).select_from(Purchase)) == 1
    assert runner.invoke(args=["replay", "999999"]).exit_code != 0


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(base_seconds=10, cap_seconds=100)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = {policy.delay(attempts).total_seconds() for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_scopes_update_and_uninstall_reach_the_install_service(app, client, session, shop):
    post(client, "app/scopes_update", {"id": 1, "previous": [], "current": ["read_orders", "read_customers"]})
    post(client, "app/uninstalled", {"id": 1, "domain": shop.domain})
    make_worker(app).run(once=True)
    session.expire_all()
    statuses = [r.status for r in session.scalars(select(InboxEvent).order_by(InboxEvent.id))]
    assert statuses == ["done", "done"]
    refreshed = session.scalars(select(Shop)).one()
    assert refreshed.scopes == {"read_orders", "read_customers"} and refreshed.status == "uninstalled"


@pytest.mark.parametrize("known", [True, False])
def test_bulk_operation_finish_is_noted_on_its_backfill_job(app, client, session, shop, known):
    from app.models import BackfillJob

    job = BackfillJob(shop_id=shop.id, kind="orders", bulk_operation_id="gid://shopify/BulkOperation/1")
    session.add(job)
    session.commit()
    operation = "gid://shopify/BulkOperation/1" if known else "gid://shopify/BulkOperation/2"
    post(
        client,
        "bulk_operations/finish",
        {"admin_graphql_api_id": operation, "completed_at": "2026-11-01T10:00:00Z", "status": "completed"},
    )
    make_worker(app).run(once=True)
    session.expire_all()
    assert only_row(session).status == ("done" if known else "ignored")


def test_a_database_gone_after_the_claim_loses_the_row_to_its_lease_not_the_worker(
    app, client, session, shop, monkeypatch
):
    """Found by the PostgreSQL outage test: loading a claimed row raised and killed the worker process."""
    from sqlalchemy.exc import OperationalError

    from app.extensions import db

    post(client, "orders/create", order_body(511))
    worker = make_worker(app)
    with app.app_context():
        ids = inbox.claim(db.session, worker.worker_id, limit=10, lease_seconds=60)

        def gone(*args, **kwargs):
            raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

        monkeypatch.setattr(db.session, "get", gone)
        assert worker.process(ids[0]) == "lost"
    row = only_row(session)
    assert row.status == "processing" and row.locked_by == "w1"  # its lease brings it back later
