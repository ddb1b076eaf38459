"""Install backfill: bulk JSONL streamed through the webhook normaliser, resumable, credited exactly once."""

from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.models.ledger import LedgerTransaction
from app.models.member import Member
from app.models.purchase import Purchase
from app.points.purchases import apply_purchase
from app.shopify.http import shopify_http_client
from app.shopify.payloads.rest import order_from_rest
from app.sync import backfill
from emulator.demo_data import load_into
from tests.integration.sync.conftest import DOMAIN, issued_vs_earned, with_customer


def balances(session) -> dict[str, tuple[int, int]]:
    rows = session.execute(select(Member.shopify_customer_id, Member.points_pending, Member.points_available))
    return {cid: (pending, available) for cid, pending, available in rows}


def counts(session) -> tuple[int, int]:
    purchases = session.scalar(select(func.count()).select_from(Purchase))
    transactions = session.scalar(select(func.count()).select_from(LedgerTransaction))
    return purchases, transactions


def run_to_end(world, http, max_lines=None):
    for _ in range(20):
        jobs = backfill.advance(
            world.session, world.shop, world.client(), world.pacer(), http, max_lines=max_lines
        )
        if not jobs:
            return
    raise AssertionError("backfill did not finish")


@pytest.fixture
def demo(world):
    summary = load_into(world.state, DOMAIN, scale=0.01)
    with shopify_http_client(current_app.config["SETTINGS"]) as http:
        yield summary, http


def test_backfill_credits_every_order_once_and_resumes_after_a_crash(world, demo, monkeypatch):
    summary, http = demo
    jobs = backfill.start(world.session, world.shop, world.client(), world.pacer())
    assert [j.kind for j in jobs] == ["customers", "orders"]
    customers, orders = jobs
    for job in jobs:
        backfill.poll(world.session, job, world.client(), world.pacer())
    assert orders.status == "downloading" and orders.total == summary.orders
    backfill.consume(world.session, world.shop, customers, http)
    assert customers.status == "done" and customers.done == summary.customers

    # Crash after the third chunk is applied, before its checkpoint: its rows roll back with the resume point.
    calls = {"n": 0}
    real = backfill._apply

    def crashing(*args, **kwargs):
        calls["n"] += 1
        failed = real(*args, **kwargs)
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")  # the process dies: nothing in it may catch this
        return failed

    monkeypatch.setattr(backfill, "CHUNK", 50)
    monkeypatch.setattr(backfill, "_apply", crashing)
    with pytest.raises(KeyboardInterrupt):
        backfill.consume(world.session, world.shop, orders, http)
    world.session.rollback()
    monkeypatch.setattr(backfill, "_apply", real)
    world.session.expire_all()
    assert orders.lines_consumed == 100 and orders.status == "downloading"

    run_to_end(world, http)  # a restarted process picks the job up where the last commit left it
    assert orders.status == "done" and orders.done == orders.total == summary.orders
    assert orders.detail["rate_per_s"] > 0
    settled = balances(world.session), counts(world.session)
    assert settled[1][0] == with_customer(world)
    issued, earned = issued_vs_earned(world.session)
    assert issued == earned > 0

    # Replaying the whole file again credits nothing: every row is an order snapshot already applied.
    orders.lines_consumed, orders.status = 0, "downloading"
    world.session.commit()
    run_to_end(world, http)
    assert (balances(world.session), counts(world.session)) == settled


def test_webhooks_meanwhile_win_when_newer_and_never_double_credit(world, demo):
    _, http = demo
    backfill.start(world.session, world.shop, world.client(), world.pacer())
    # While the export runs, webhooks for some orders arrive: a later snapshot with a refund.
    newer = [o for o in world.remote.orders.values() if o.get("customer") and not o["refunds"]][:20]
    for order in newer:
        world.clock.sleep(5)
        world.remote.add_refund(
            order["id"],
            {"transactions": [{"kind": "refund", "status": "success", "amount": "500"}]},
        )
        body = dict(world.remote.orders[order["id"]])
        apply_purchase(world.session, world.shop, order_from_rest(body, DOMAIN))
        world.session.commit()
    before = counts(world.session)
    run_to_end(world, http)
    after = counts(world.session)
    assert after[0] == with_customer(world)  # the 20 were not added twice
    assert after[0] - before[0] == with_customer(world) - 20
    for order in newer:
        purchase = world.session.scalars(select(Purchase).where(Purchase.source_id == str(order["id"]))).one()
        assert (
            purchase.source_updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            == world.remote.orders[order["id"]]["updated_at"]
        )


def test_slices_resume_from_the_byte_after_the_last_applied_line(world, demo):
    """The syncer backfills in short slices; each resumed slice downloads only the rest of the file."""
    _summary, http = demo
    backfill.start(world.session, world.shop, world.client(), world.pacer())
    seen: list[tuple[str | None, int]] = []
    http.event_hooks["response"] = [lambda r: seen.append((r.request.headers.get("Range"), r.status_code))]
    slices = 0
    while True:
        jobs = backfill.advance(world.session, world.shop, world.client(), world.pacer(), http, max_lines=37)
        if not jobs:
            break
        slices += 1
    downloads = [(rng, status) for rng, status in seen if rng is not None or status in (200, 206, 416)]
    resumed = [status for rng, status in downloads if rng is not None]
    assert slices > 4 and resumed and set(resumed) <= {206, 416}
    assert counts(world.session)[0] == with_customer(world)  # every order once, none skipped
    issued, earned = issued_vs_earned(world.session)
    assert issued == earned > 0


def test_a_slice_stops_at_its_time_budget_and_the_next_one_goes_on(world, demo):
    _, http = demo
    jobs = backfill.start(world.session, world.shop, world.client(), world.pacer())
    for job in jobs:
        backfill.poll(world.session, job, world.client(), world.pacer())
    customers = jobs[0]
    ticks = iter(range(10_000))
    applied = backfill.consume(
        world.session, world.shop, customers, http, max_seconds=5, clock=lambda: float(next(ticks))
    )
    assert applied == 4 and customers.status == "downloading" and customers.lines_consumed == 4
    rest = backfill.consume(world.session, world.shop, customers, http)
    assert customers.status == "done" and applied + rest == customers.lines_consumed
