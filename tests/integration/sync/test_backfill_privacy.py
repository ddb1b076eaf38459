"""The bulk export's signed result URL is kept encrypted, and neither errors nor log lines carry its query."""

from __future__ import annotations

import logging

import httpx
import pytest
from flask import current_app

from app.models.shop_jobs import BackfillJob
from app.shopify.errors import ShopifyUnavailable
from app.shopify.http import shopify_http_client
from app.sync import backfill
from emulator.demo_data import load_into
from tests.integration.sync.conftest import DOMAIN

SIGNATURE = "X-Goog-Signature=5ec4e7515ec4e7"


@pytest.fixture
def http(world):
    load_into(world.state, DOMAIN, scale=0.01)
    with shopify_http_client(current_app.config["SETTINGS"]) as client:
        yield client


def test_the_result_url_is_stored_encrypted_and_still_downloads(world, http):
    jobs = backfill.start(world.session, world.shop, world.client(), world.pacer())
    for job in jobs:
        backfill.poll(world.session, job, world.client(), world.pacer())
    customers = jobs[0]
    url = backfill.result_url(customers)
    assert url and url.startswith("https://")
    stored = world.session.get(BackfillJob, customers.id).result_url
    assert stored.startswith(backfill.ENCRYPTED) and "https://" not in stored and DOMAIN not in stored
    assert backfill.consume(world.session, world.shop, customers, http) > 0


def test_a_failed_download_names_no_signed_query_in_errors_or_logs(world, http, caplog):
    caplog.set_level(logging.DEBUG)
    job = BackfillJob(shop_id=world.shop.id, kind="orders", status="downloading", detail={})
    world.session.add(job)
    world.session.flush()
    backfill.set_result_url(job, f"https://{DOMAIN}/_emulator/bulk/404.jsonl?{SIGNATURE}")
    world.session.commit()
    with pytest.raises(ShopifyUnavailable) as failure:
        backfill.consume(world.session, world.shop, job, http)
    assert "HTTP 404" in str(failure.value) and "5ec4e751" not in str(failure.value)
    assert not isinstance(failure.value.__cause__ or failure.value.__context__, httpx.HTTPError)
    # What the syncer logs on failure is the error's text (app/sync/runner.py); httpx's own request lines
    # are kept below INFO by app/observability. Nothing captured here may carry the signature.
    assert not [r for r in caplog.records if "5ec4e751" in r.getMessage()]


def test_a_url_encrypted_for_another_job_does_not_decrypt(world):
    first = BackfillJob(shop_id=world.shop.id, kind="orders", status="downloading", detail={})
    second = BackfillJob(shop_id=world.shop.id, kind="customers", status="downloading", detail={})
    world.session.add_all([first, second])
    world.session.flush()
    backfill.set_result_url(first, f"https://{DOMAIN}/_emulator/bulk/1.jsonl?{SIGNATURE}")
    second.result_url = first.result_url  # moved to another row: its associated data no longer matches
    assert backfill.result_url(first).endswith(SIGNATURE)
    assert backfill.result_url(second) is None
