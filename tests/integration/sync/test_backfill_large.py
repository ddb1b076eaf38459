"""The install backfill at 100,000 orders (set TSUNAGU_BACKFILL_ORDERS=100000; skipped otherwise)."""

from __future__ import annotations

import os
import time

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.models.purchase import Purchase
from app.shopify.http import shopify_http_client
from app.sync import backfill
from emulator.demo_data import load_into
from tests.integration.sync.conftest import DOMAIN, issued_vs_earned, with_customer

ORDERS = int(os.environ.get("TSUNAGU_BACKFILL_ORDERS", "0"))
DEMO_ORDERS = 20_000  # the demo retailer at scale 1


@pytest.mark.slow
@pytest.mark.skipif(ORDERS <= 0, reason="set TSUNAGU_BACKFILL_ORDERS to run the large backfill")
def test_large_backfill_finishes_resumes_and_credits_once(world, monkeypatch):
    summary = load_into(world.state, DOMAIN, scale=ORDERS / DEMO_ORDERS)
    jobs = backfill.start(world.session, world.shop, world.client(), world.pacer())
    for job in jobs:
        backfill.poll(world.session, job, world.client(), world.pacer())
    customers, orders = jobs
    with shopify_http_client(current_app.config["SETTINGS"]) as http:
        t0 = time.monotonic()
        backfill.consume(world.session, world.shop, customers, http)
        t1 = time.monotonic()
        real, calls = backfill._apply, {"n": 0}

        def killed_midway(*args, **kwargs):
            calls["n"] += 1
            failed = real(*args, **kwargs)
            if calls["n"] == summary.orders // backfill.CHUNK // 2 + 1:
                raise KeyboardInterrupt("killed")  # after a chunk is applied, before its checkpoint
            return failed

        monkeypatch.setattr(backfill, "_apply", killed_midway)
        with pytest.raises(KeyboardInterrupt):
            backfill.consume(world.session, world.shop, orders, http)
        world.session.rollback()
        world.session.expire_all()
        resumed_at = orders.lines_consumed
        monkeypatch.setattr(backfill, "_apply", real)
        backfill.consume(world.session, world.shop, orders, http)
        t2 = time.monotonic()
    purchases = world.session.scalar(select(func.count()).select_from(Purchase))
    issued, earned = issued_vs_earned(world.session)
    print(
        f"\nbackfill: {summary.customers} customers in {t1 - t0:.1f}s, "
        f"{summary.orders} orders in {t2 - t1:.1f}s "
        f"({summary.orders / (t2 - t1):.0f}/s incl. the killed half); resumed at line {resumed_at}; "
        f"{purchases} purchases, {issued} points issued for {earned} earned; detail {orders.detail}"
    )
    assert orders.status == "done" and orders.done == summary.orders
    assert purchases == with_customer(world)
    assert issued == earned
