"""The syncer pass (install tasks, backfill, redemptions, sync), the lease, and freshness figures."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.jobs import leases
from app.models.sync_state import FreshnessSample
from app.shopify.http import shopify_http_client
from app.sync import freshness
from app.sync.runner import run_pass
from app.sync.syncer import LEASE_NAME, sync_shop
from emulator.demo_data import load_into
from tests.integration.sync.conftest import DOMAIN, assert_shopify_matches_db


def test_first_passes_after_install_backfill_and_sync_everything(world):
    load_into(world.state, DOMAIN, scale=0.005)
    pacer = world.pacer()
    with shopify_http_client(current_app.config["SETTINGS"]) as http:
        first = run_pass(
            world.session, world.shop, world.client(), pacer, http, holder="t", now=world.clock.utc
        )
        assert first.error is None and first.installed[0] == "backfill started"
        assert first.installed[1] == "9/9 segments created"
        second = run_pass(
            world.session, world.shop, world.client(), pacer, http, holder="t", now=world.clock.utc
        )
    assert second.installed == [] and all(b["status"] == "done" for b in second.backfill)
    assert first.sync.confirmed + second.sync.confirmed > 0
    assert_shopify_matches_db(world)
    assert world.remote.throttled_count == 0


def test_one_syncer_per_shop(world):
    cid = world.customer()
    world.buy(cid, "4000")
    assert leases.acquire(
        world.session, world.shop.id, LEASE_NAME, "other", timedelta(seconds=60), world.clock.utc()
    )
    report = sync_shop(
        world.session, world.shop, world.client(), world.pacer(), holder="me", now=world.clock.utc
    )
    assert report.lease_lost and report.members == 0 and world.remote.customer_metafields(cid) == {}
    # The other holder dies: its lease runs out and the next syncer takes over.
    later = world.clock.utc() + timedelta(minutes=5)
    report = sync_shop(
        world.session, world.shop, world.client(), world.pacer(), holder="me", now=lambda: later
    )
    assert not report.lease_lost and report.confirmed == 1


def test_freshness_is_measured_from_the_webhook_receipt(world):
    cid = world.customer()
    received = world.clock.utc()
    with freshness.receiving(received):
        world.buy(cid, "4000")
    world.clock.sleep(0.8)
    sync_shop(world.session, world.shop, world.client(), world.pacer(), now=world.clock.utc)
    sample = world.session.query(FreshnessSample).one()
    assert sample.received_at == received and 800 <= sample.latency_ms < 5000
    summary = freshness.latency_summary(world.session, world.shop.id, since=received - timedelta(hours=1))
    assert summary["count"] == 1 and summary["p50_ms"] == summary["p95_ms"] == sample.latency_ms


def test_cli_sync_once_runs_a_pass(world, app):
    cid = world.customer()
    world.buy(cid, "4000")
    result = app.test_cli_runner().invoke(args=["sync", "--once", "--shop", DOMAIN, "-v"])
    assert result.exit_code == 0, result.output
    assert DOMAIN in result.output and world.remote.customer_metafields(cid)
    status = app.test_cli_runner().invoke(args=["backfill", "status", "--shop", DOMAIN])
    assert "orders" in status.output
