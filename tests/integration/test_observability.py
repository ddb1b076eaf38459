"""The operators' view: /metrics moves with webhooks and the worker, /readyz follows the heartbeats, log lines
are JSON with request ids and carry no personal data through a webhook, the worker and a syncer round."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
import sentry_sdk
from prometheus_client.parser import text_string_to_metric_families
from sentry_sdk.transport import Transport
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from app import create_app
from app.config import load_settings
from app.dispatch import dispatch
from app.extensions import db
from app.jobs.worker import Worker, WorkerConfig
from app.models import BackfillJob, FreshnessSample, ShopSegment, ShopSyncStatus
from app.models.processes import ProcessHeartbeat, beat
from app.models.types import utcnow
from app.observability.logs import JsonFormatter
from app.observability.reporting import init_sentry, report_handled_errors
from bench.servers import ROOT, free_port
from emulator.transport import emulator_transport
from tests.conftest import TEST_ENV
from tests.integration.sync.conftest import DOMAIN, Clock, build_emulator, install
from tests.integration.webhooks.support import headers, order_body, post


def scrape(client, **request_headers: str) -> dict[str, float]:
    """Every sample of /metrics as {'name{label="value",...}': value}."""
    response = client.get("/metrics", headers=request_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def test_healthz_and_metrics_answer(client):
    assert client.get("/healthz").status_code == 200
    samples = scrape(client)
    assert samples["tsunagu_database_up"] == 1
    for state in ("pending", "processing", "dead"):
        assert samples[f'tsunagu_inbox_rows{{state="{state}"}}'] == 0
    assert samples['tsunagu_sync_queue_members{stage="unwritten"}'] == 0


def test_metrics_move_when_webhooks_arrive_and_are_processed(app, client, session, shop):
    before = scrape(client)
    for n in (1, 2):
        assert (
            post(client, "orders/create", order_body(91000 + n, "8000", customer_id=71000 + n)).status_code
            == 200
        )
    queued = scrape(client)
    assert queued['tsunagu_inbox_rows{state="pending"}'] == before['tsunagu_inbox_rows{state="pending"}'] + 2
    assert queued["tsunagu_inbox_oldest_due_age_seconds"] >= 0
    assert not any(k.startswith("tsunagu_worker_rows_processed_total") for k in queued)

    worker = Worker(app, WorkerConfig(idle_sleep=0), worker_id="metrics-test:1:worker", handle=dispatch)
    assert worker.run(once=True) == 2
    after = scrape(client)
    assert after['tsunagu_inbox_rows{state="pending"}'] == before['tsunagu_inbox_rows{state="pending"}']
    assert after["tsunagu_inbox_oldest_due_age_seconds"] == 0
    # The worker's heartbeat carries its count: a per-process counter any web process can serve.
    assert after['tsunagu_worker_rows_processed_total{holder="metrics-test:1:worker"}'] == 2
    assert after['tsunagu_process_heartbeat_age_seconds{holder="metrics-test:1:worker",kind="worker"}'] < 60
    # Two new members wait for the syncer.
    unwritten = 'tsunagu_sync_queue_members{stage="unwritten"}'
    assert after[unwritten] == before[unwritten] + 2
    assert after['tsunagu_sync_queue_members{stage="unconfirmed"}'] >= after[unwritten]


def test_metrics_report_freshness_api_budget_and_backfill(client, session, shop):
    now = utcnow()
    for ms in (100, 200, 300, 400, 5000):
        session.add(FreshnessSample(shop_id=shop.id, received_at=now, confirmed_at=now, latency_ms=ms))
    session.add(
        FreshnessSample(shop_id=shop.id, received_at=now, confirmed_at=now - timedelta(hours=2), latency_ms=9)
    )
    session.add(ShopSyncStatus(shop_id=shop.id, api_available=1500, api_maximum=2000, api_restore_rate=100))
    session.add(BackfillJob(shop_id=shop.id, kind="orders", status="downloading", done=250, total=1000))
    session.add(BackfillJob(shop_id=shop.id, kind="customers", status="done", done=40, total=40))
    session.commit()
    samples = scrape(client)
    assert samples["tsunagu_freshness_samples"] == 5  # the 2-hour-old sample is outside the window
    assert samples['tsunagu_freshness_seconds{quantile="0.5"}'] == 0.3
    assert samples['tsunagu_freshness_seconds{quantile="0.95"}'] == 5.0
    shop_label = f'shop="{shop.domain}"'
    assert samples[f"tsunagu_api_bucket_available_points{{{shop_label}}}"] == 1500
    assert samples[f"tsunagu_api_bucket_maximum_points{{{shop_label}}}"] == 2000
    assert samples[f"tsunagu_api_bucket_restore_rate_points{{{shop_label}}}"] == 100
    assert samples[f"tsunagu_api_throttled_total{{{shop_label}}}"] == 0
    assert samples[f'tsunagu_backfill_done{{kind="orders",{shop_label}}}'] == 250
    assert samples[f'tsunagu_backfill_total{{kind="orders",{shop_label}}}'] == 1000
    assert f'tsunagu_backfill_done{{kind="customers",{shop_label}}}' not in samples  # finished
    assert samples['tsunagu_backfill_jobs{status="downloading"}'] == 1


def test_metrics_with_a_token_want_it_and_production_without_one_serves_none(app, client, monkeypatch):
    settings = app.config["SETTINGS"]
    monkeypatch.setitem(app.config, "SETTINGS", dataclasses.replace(settings, metrics_token="s3cret-token"))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(client, Authorization="Bearer s3cret-token")["tsunagu_database_up"] == 1
    monkeypatch.setitem(app.config, "SETTINGS", dataclasses.replace(settings, env="production"))
    assert client.get("/metrics").status_code == 404


def test_metrics_say_when_the_database_is_away(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    assert scrape(client)["tsunagu_database_up"] == 0


def test_readyz_waits_for_a_worker_and_a_syncer(app, client, session):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["waiting_for"] == ["syncer", "worker"] and body["worker"] == {"state": "missing"}

    assert beat(session, "worker", "host-a:11:aaaaaa", processed=3, force=True)
    assert beat(session, "syncer", "syncer:host-a:12:bbbbbbbb", force=True)
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["worker"]["live"] == 1

    stale = app.config["SETTINGS"].heartbeat_stale_seconds
    session.execute(
        update(ProcessHeartbeat)
        .where(ProcessHeartbeat.kind == "syncer")
        .values(last_seen=utcnow() - timedelta(seconds=stale + 5))
    )
    session.commit()
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 503 and body["waiting_for"] == ["syncer"]
    assert body["syncer"]["state"] == "stale" and body["syncer"]["age_seconds"] >= stale
    assert client.get("/healthz").status_code == 200  # liveness does not depend on the other processes


def test_readyz_reports_a_dead_database(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["database"] == "down"


def test_heartbeats_are_throttled_pruned_and_never_raise(session, monkeypatch):
    now = [1000.0]
    assert beat(session, "worker", "h:1:x", processed=1, clock=lambda: now[0])
    assert not beat(session, "worker", "h:1:x", processed=2, clock=lambda: now[0])  # within BEAT_EVERY
    session.add(ProcessHeartbeat(kind="worker", holder="gone:9:z", last_seen=utcnow() - timedelta(hours=2)))
    session.commit()
    now[0] += 5
    assert beat(session, "worker", "h:1:x", processed=3, clock=lambda: now[0])
    rows = {r.holder: r.processed for r in session.scalars(select(ProcessHeartbeat))}
    assert rows == {"h:1:x": 3}  # updated in place; the long-silent process's row is gone

    def broken(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(session, "execute", broken)
    assert beat(session, "worker", "h:1:x", force=True) is False


def test_the_heartbeat_command_is_a_healthcheck(app, session, monkeypatch):
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "box-7")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["heartbeat", "worker"]).exit_code == 1
    beat(session, "worker", "other-box:5:cccccc", force=True)
    assert runner.invoke(args=["heartbeat", "worker"]).exit_code == 0
    assert runner.invoke(args=["heartbeat", "worker", "--here"]).exit_code == 1  # not this host's
    beat(session, "worker", "box-7:6:dddddd", force=True)
    assert runner.invoke(args=["heartbeat", "worker", "--here"]).exit_code == 0


def test_request_ids_are_taken_when_sane_made_otherwise_and_logged(client, shop, caplog):
    caplog.set_level(logging.INFO)
    caplog.handler.setFormatter(JsonFormatter())
    given = "req-0123456789abcdef"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
    for insane in ("short", "has spaces in it 123", "x" * 200, "mail@example.com-1234"):
        echoed = client.get("/healthz", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", echoed)
    first, second = (client.get("/healthz").headers["X-Request-ID"] for _ in range(2))
    assert first != second

    body = json.dumps(order_body(92001)).encode()
    request_headers = headers("orders/create", body) | {"X-Request-ID": "webhook-req-42"}
    response = client.post("/webhooks", data=body, headers=request_headers)
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "webhook-req-42"
    lines = [json.loads(line) for line in caplog.text.splitlines()]
    webhook = [line for line in lines if line.get("request_id") == "webhook-req-42"]
    assert webhook and webhook[-1]["topic"] == "orders/create" and webhook[-1]["shop"] == shop.domain
    assert webhook[-1]["outcome"]


PERSON = {
    "first_name": "Hanako",
    "last_name": "Yamashita",
    "email": "hanako.yamashita@example.jp",
    "phone": "+819055556666",
}
SHOPIFY_TOKEN = "shpat_0123456789abcdef0123456789abcdef"
ID_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJkZXN0IjoiaHR0cHM6Ly9zaG9wIn0.c2lnbmF0dXJl"
ADDRESS = {
    "first_name": "Hanako",
    "last_name": "Yamashita",
    "name": "Hanako Yamashita",
    "address1": "4-5-6 Jingumae",
    "address2": "Omotesando Hills 301",
    "city": "Shibuya-ku",
    "province": "Tokyo",
    "zip": "150-0001",
    "country": "Japan",
    "phone": "03-5555-6666",
}


@pytest.fixture
def shopify(app, committed):
    """The emulator as Shopify with the app installed in it (real commits: the syncer commits per round)."""
    clock = Clock()
    state, remote, wsgi = build_emulator(clock)
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport(wsgi)
    try:
        shop = install(committed.session, state)
        # The install's first tasks (backfill, standard segments) count as done: the round under test is the
        # member sync, and creating nine segments under the real pacer takes seconds.
        shop.app_namespace = remote.app_namespace
        committed.session.add(
            BackfillJob(shop_id=shop.id, kind="orders", status="done", finished_at=utcnow())
        )
        committed.session.add(
            ShopSegment(shop_id=shop.id, handle="omni", name="Omni", query="x", status="created")
        )
        committed.session.commit()
        yield state, remote, shop
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)


def test_no_personal_data_or_token_reaches_the_logs_through_a_webhook_the_worker_and_a_sync(
    app, committed, shopify, caplog
):
    state, remote, _shop = shopify
    caplog.set_level(logging.DEBUG)
    caplog.handler.setFormatter(JsonFormatter())
    customer = remote.add_customer(**PERSON)
    client = app.test_client()
    customer_body = customer | {"default_address": ADDRESS, "addresses": [ADDRESS]}
    assert post(client, "customers/create", customer_body, shop=DOMAIN).status_code == 200
    order = order_body(93001, "6000", customer_id=customer["id"])
    order |= {"email": PERSON["email"], "phone": PERSON["phone"], "billing_address": ADDRESS}
    order |= {"shipping_address": ADDRESS, "customer": customer_body}
    assert post(client, "orders/create", order, shop=DOMAIN).status_code == 200

    assert (
        Worker(app, WorkerConfig(idle_sleep=0), worker_id="pii-test:1:worker", handle=dispatch).run(once=True)
        == 2
    )
    result = app.test_cli_runner().invoke(args=["sync", "--once", "--shop", DOMAIN])
    assert result.exit_code == 0, result.output
    assert remote.customer_metafields(customer["id"])  # the round wrote the member's values to Shopify
    kinds = set(committed.session.scalars(select(ProcessHeartbeat.kind)))
    assert kinds == {"worker", "syncer"}  # both loops beat

    lines = [json.loads(line) for line in caplog.text.splitlines()]  # every line is one JSON object
    assert len(lines) == len(caplog.records) > 0
    assert {"timestamp", "level", "logger", "message"} <= set.intersection(*(set(line) for line in lines))
    handled = [line for line in lines if line.get("topic") == "customers/create" and line.get("outcome")]
    assert handled and {line["shop"] for line in handled} == {DOMAIN}

    tokens = {
        t
        for shop_tokens in (*state.tokens._access.values(), *state.tokens._refresh.values())
        for t in shop_tokens
    }
    settings = app.config["SETTINGS"]
    secrets = {settings.api_secret, settings.api_secret_previous, *settings.token_encryption_keys, *tokens}
    personal = {*PERSON.values(), *ADDRESS.values(), "+819055556666".removeprefix("+"), "09055556666"}
    personal -= {"Japan", "Tokyo", "Shibuya-ku"}  # place names, not a person's
    assert tokens, "the capture saw no token issued: the check would prove nothing"
    raw = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for text in (caplog.text, raw):  # what was written, and what the code asked to log before redaction
        leaked = sorted(value for value in personal | secrets if value and value in text)
        assert leaked == []


class CapturingTransport(Transport):
    """Keeps Sentry's events in memory: nothing leaves the process."""

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


def test_sentry_reports_carry_no_personal_data(database_url):
    transport = CapturingTransport()
    events = transport.events
    fresh = create_app(load_settings(dict(TEST_ENV, DATABASE_URL=database_url)), overrides={"TESTING": False})

    @fresh.get("/_sentry_boom_for_test")
    def boom():
        # Values, not literals: Sentry sends the source lines around a frame (code, never data).
        raise RuntimeError(f"customer {PERSON['email']} {PERSON['phone']} token {SHOPIFY_TOKEN}")

    settings = dataclasses.replace(fresh.config["SETTINGS"], sentry_dsn="https://key@sentry.invalid/1")
    init_sentry(settings, transport=transport)
    report_handled_errors(fresh)  # what init_app does when SENTRY_DSN is set
    try:
        url = f"/_sentry_boom_for_test?id_token={ID_TOKEN}&email={PERSON['email']}"
        response = fresh.test_client().get(
            url, headers={"Cookie": "session=abc", "Authorization": "Bearer t0k"}
        )
        assert response.status_code == 500
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
    assert len(events) == 1, events  # the exception, once (not again as its log line)
    sent = json.dumps(events)
    for leak in (
        "hanako@example.jp",
        "819011112222",
        "shpat_0123",
        "eyJhbGci",
        "id_token",
        "session=abc",
        "t0k",
    ):
        assert leak not in sent
    exception = events[0]["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError" and exception["value"] == ""
    assert exception["stacktrace"]["frames"][-1]["function"] == "boom"
    assert events[0]["request"]["url"].endswith("/_sentry_boom_for_test")


def test_gunicorn_writes_json_lines_with_request_ids_and_no_query_strings(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")} | TEST_ENV
    env |= {
        "TSUNAGU_ENV": "development",
        "LOG_FORMAT": "json",
        "DATABASE_URL": f"sqlite:///{tmp_path}/gunicorn.sqlite3",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None, "gunicorn did not come up"
                time.sleep(0.2)
        rid = "gunicorn-req-7f3c9"
        answer = httpx.get(
            base + "/healthz?id_token=SECRET-ID-TOKEN&hmac=beef", headers={"X-Request-ID": rid}
        )
        assert answer.status_code == 200 and answer.headers["X-Request-ID"] == rid
        unsigned = httpx.post(
            base + "/webhooks?signature=SECRET-SIG",
            content=b"{}",
            headers={"X-Shopify-Topic": "orders/create"},
        )
        assert unsigned.status_code == 401
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    lines = [json.loads(line) for line in (out + err).splitlines() if line.strip()]  # every line is JSON
    assert "SECRET" not in out + err
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    healthz = next(line for line in access if line.get("request_id") == rid)
    assert healthz["http"] == healthz["http"] | {"method": "GET", "path": "/healthz", "status": 200}
    webhook = next(line for line in lines if line["logger"] == "app.webhooks.views")
    assert webhook["topic"] == "orders/create" and webhook["outcome"]
    assert webhook["request_id"] == next(a["request_id"] for a in access if a["http"]["path"] == "/webhooks")
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)
