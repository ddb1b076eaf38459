"""Processed bodies lose personal data at once; processed rows and data exports go after their retention."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from app.customers.retention import purge_expired
from app.dispatch import dispatch, periodic
from app.jobs.worker import Worker, WorkerConfig
from app.models import DataExport, InboxEvent, LedgerPosting, Purchase
from app.models.types import utcnow
from tests.integration.webhooks.support import order_body, post

PERSONAL = ("buyer@example.com", "+819012345678", "john@example.com", "John", "Norman")


def drain(app) -> None:
    Worker(app, WorkerConfig(idle_sleep=0), worker_id="retention", handle=dispatch).run(once=True)


def rows(session) -> list[InboxEvent]:
    session.expire_all()
    return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def test_processed_bodies_keep_no_personal_data_and_still_replay(app, client, session, shop):
    post(client, "orders/create", order_body(801, "12000"))
    customer = {"id": 7001, "email": "john@example.com", "first_name": "John", "last_name": "Norman"}
    post(client, "customers/update", customer | {"updated_at": "2026-11-01T10:00:00+09:00"})
    drain(app)
    for row in rows(session):
        assert row.status == "done"
        assert not [value for value in PERSONAL if value in row.payload], row.topic
        assert len(json.loads(row.payload)["_retained"]["sha256"]) == 64
    points = session.scalar(select(func.sum(LedgerPosting.points)))

    order_row = rows(session)[0]
    result = app.test_cli_runner().invoke(args=["replay", str(order_row.id)])
    assert result.exit_code == 0, result.output
    drain(app)
    session.expire_all()
    replayed = session.get(InboxEvent, order_row.id)
    assert replayed.status == "done", (replayed.status, replayed.last_error, replayed.attempts)
    assert session.scalar(select(func.count()).select_from(Purchase)) == 1
    assert session.scalar(select(func.sum(LedgerPosting.points))) == points


def test_a_row_ignored_for_an_uninstalled_shop_is_reduced_too(app, client, session, shop):
    post(client, "orders/create", order_body(802, "5000"))
    shop.status = "uninstalled"
    session.commit()
    drain(app)
    (row,) = rows(session)
    assert row.status == "ignored" and "buyer@example.com" not in row.payload


def _age(session, row: InboxEvent, days: int) -> None:
    row.processed_at = utcnow() - timedelta(days=days)
    session.commit()


def test_processed_rows_and_exports_are_purged_after_their_retention(app, client, session, shop):
    for order_id in (901, 902, 903, 904):
        post(client, "orders/create", order_body(order_id, "1000"))
    drain(app)
    old_done, recent_done, old_refused, old_dead = rows(session)
    _age(session, old_done, 31)
    _age(session, recent_done, 29)
    old_refused.status, old_refused.last_error = "ignored", "refused: kept for the operator"
    _age(session, old_refused, 90)
    old_dead.status = "dead"
    _age(session, old_dead, 90)
    session.add_all(
        [
            DataExport(
                shop_id=shop.id, shop_domain=shop.domain, shopify_customer_id="1", data_request_id="old"
            ),
            DataExport(
                shop_id=shop.id, shop_domain=shop.domain, shopify_customer_id="1", data_request_id="new"
            ),
        ]
    )
    session.commit()
    old_export = session.scalar(select(DataExport).where(DataExport.data_request_id == "old"))
    old_export.built_at = utcnow() - timedelta(days=31)
    session.commit()

    assert purge_expired(session, current_app.config["SETTINGS"]) == {"inbox": 1, "exports": 1}
    assert [r.id for r in rows(session)] == [recent_done.id, old_refused.id, old_dead.id]
    assert session.scalars(select(DataExport.data_request_id)).all() == ["new"]


def test_the_worker_scheduled_jobs_run_the_purge(app, client, session, shop):
    post(client, "orders/create", order_body(905, "1000"))
    drain(app)
    (row,) = rows(session)
    _age(session, row, 31)
    periodic()
    assert rows(session) == []


def test_a_topic_we_do_not_handle_is_stored_as_its_hash_only(client, session, shop):
    body = {"id": 5, "email": "john@example.com", "first_name": "John"}
    assert post(client, "checkouts/create", body).status_code == 200
    (row,) = rows(session)
    assert row.status == "ignored" and set(json.loads(row.payload)) == {"_retained"}


def test_a_failing_scheduled_job_does_not_stop_the_ones_after_it(
    app, client, session, shop, monkeypatch, caplog
):
    post(client, "orders/create", order_body(906, "1000"))
    drain(app)
    (row,) = rows(session)
    _age(session, row, 31)

    def broken() -> None:
        raise RuntimeError("a scheduled job that always fails")

    import app.dispatch as dispatch_module

    jobs = dispatch_module.SCHEDULED_JOBS
    monkeypatch.setattr(dispatch_module, "SCHEDULED_JOBS", (broken, *jobs))
    periodic()
    assert rows(session) == []  # the purge, last in the round, still ran
    assert "scheduled job broken failed: RuntimeError" in caplog.text
