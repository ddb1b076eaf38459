"""Install backfill by chunks: set-based ingest, a failing chunk retried row by row, the owed replay."""

from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.models.member import Member
from app.models.purchase import Purchase
from app.models.types import utcnow
from app.points.engine import rebuild_members
from app.shopify.http import shopify_http_client
from app.sync import backfill
from app.sync.cli import progress_line
from emulator.demo_data import load_into
from tests.integration.sync.conftest import DOMAIN, issued_vs_earned, with_customer

NOW = utcnow()


@pytest.fixture
def jobs(world):
    load_into(world.state, DOMAIN, scale=0.01)
    customers, orders = backfill.start(world.session, world.shop, world.client(), world.pacer())
    for job in (customers, orders):
        backfill.poll(world.session, job, world.client(), world.pacer())
    with shopify_http_client(current_app.config["SETTINGS"]) as http:
        backfill.consume(world.session, world.shop, customers, http, now=lambda: NOW)
        yield orders, http


def purchases(world) -> int:
    return world.session.scalar(select(func.count()).select_from(Purchase))


def settled(world) -> bool:
    """Every member's stored ledger is what a replay at NOW gives (nothing left to change)."""
    ids = list(world.session.scalars(select(Member.id)))
    return not rebuild_members(world.session, world.shop, ids, NOW)


def test_orders_are_stored_by_chunk_and_each_member_replayed_once_at_the_end(world, jobs, monkeypatch):
    orders, http = jobs
    replayed: list[int] = []
    real = backfill.replay_members

    def counting(session, shop, ids, now, **kwargs):
        replayed.extend(ids)
        return real(session, shop, ids, now, **kwargs)

    monkeypatch.setattr(backfill, "replay_members", counting)
    monkeypatch.setattr(backfill, "CHUNK", 40)
    backfill.consume(world.session, world.shop, orders, http, now=lambda: NOW)
    assert orders.status == "done" and orders.detail["errors"] == 0
    assert purchases(world) == with_customer(world)
    assert len(replayed) == len(set(replayed)) == orders.detail["replayed"] > 0
    issued, earned = issued_vs_earned(world.session)
    assert issued == earned > 0
    assert settled(world)
    assert "of" in progress_line(backfill.progress(orders))


def test_a_replay_cut_short_resumes_after_the_last_committed_batch(world, jobs, monkeypatch):
    orders, http = jobs
    real, calls = backfill.replay_members, {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")  # the process dies during the second batch
        return real(*args, **kwargs)

    monkeypatch.setattr(backfill, "REPLAY_BATCH", 10)
    monkeypatch.setattr(backfill, "replay_members", dying)
    with pytest.raises(KeyboardInterrupt):
        backfill.consume(world.session, world.shop, orders, http, now=lambda: NOW)
    world.session.rollback()
    world.session.expire_all()
    assert orders.status == "downloading" and orders.detail["replayed"] == 10
    assert purchases(world) == with_customer(world)  # the lines were committed before the replay began
    monkeypatch.setattr(backfill, "replay_members", real)
    backfill.consume(world.session, world.shop, orders, http, now=lambda: NOW)
    assert orders.status == "done"
    assert settled(world)


def test_a_failing_chunk_is_applied_row_by_row_and_a_poison_row_is_skipped_alone(world, jobs, monkeypatch):
    orders, http = jobs
    poison = next(o for o in world.remote.orders.values() if o.get("customer"))
    real_apply = backfill.apply_purchase

    def failing_chunk(*args, **kwargs):
        raise RuntimeError("set-based attempt fails")

    def one(session, shop, event, now=None):
        if str(event.source_id) == str(poison["id"]):
            raise ValueError("poison")
        return real_apply(session, shop, event, now=now)

    monkeypatch.setattr(backfill, "ingest_orders", failing_chunk)
    monkeypatch.setattr(backfill, "apply_purchase", one)
    backfill.consume(world.session, world.shop, orders, http, now=lambda: NOW)
    assert orders.status == "done" and orders.detail["errors"] == 1
    assert purchases(world) == with_customer(world) - 1
    issued, earned = issued_vs_earned(world.session)
    assert issued == earned > 0
