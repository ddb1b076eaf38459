"""The webhook sender: Shopify headers and signature, and its duplicate/reorder/drop/hold/retry modes."""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter

import pytest
from flask import Flask, request

from emulator.webhook_sender import FIRST_RETRY_DELAY, WebhookSender

SECRET = "test-api-secret"
SHOP = "hooks.myshopify.com"


class Receiver:
    """A WSGI endpoint that records every request and answers with scripted statuses."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        self.app = Flask(__name__)
        self.app.add_url_rule("/webhooks", view_func=self.view, methods=["POST"])

    def view(self):
        self.requests.append((dict(request.headers), request.get_data()))
        return "", self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def receiver():
    return Receiver()


def sender_for(receiver, **modes):
    return WebhookSender(SECRET, receiver.app, time_scale=0.0, **modes)


def test_headers_and_independent_hmac_check(receiver):
    payload = {"id": 1, "email": "hanako@example.jp", "note": "渋谷店で購入"}
    delivery = sender_for(receiver).send(SHOP, "orders/create", payload, webhook_id="wh-1", event_id="ev-1")

    headers, body = receiver.requests[0]
    assert delivery.outcome == "delivered" and delivery.status == 200
    assert headers["X-Shopify-Topic"] == "orders/create"
    assert headers["X-Shopify-Shop-Domain"] == SHOP
    assert headers["X-Shopify-Api-Version"] == "2026-07"
    assert headers["X-Shopify-Webhook-Id"] == "wh-1"
    assert headers["X-Shopify-Event-Id"] == "ev-1"
    assert headers["X-Shopify-Triggered-At"].endswith("Z")
    assert headers["Content-Type"] == "application/json"
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["X-Shopify-Hmac-Sha256"], expected)
    assert json.loads(body) == payload


def test_raw_bytes_are_sent_and_signed_unchanged(receiver):
    raw = b'{"id":  1, "b": "\\u6e0b"}'
    sender_for(receiver).send(SHOP, "customers/redact", raw)

    headers, body = receiver.requests[0]
    assert body == raw
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
    assert headers["X-Shopify-Hmac-Sha256"] == base64.b64encode(digest).decode()


def test_a_wrong_secret_would_not_verify(receiver):
    WebhookSender("another-secret", receiver.app).send(SHOP, "orders/create", {"id": 1})

    headers, body = receiver.requests[0]
    ours = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert headers["X-Shopify-Hmac-Sha256"] != ours


def test_duplicate_mode_sends_copies_with_the_same_webhook_id(receiver):
    sender = sender_for(receiver, duplicate=3)

    sender.send(SHOP, "orders/paid", {"id": 7})

    ids = [headers["X-Shopify-Webhook-Id"] for headers, _ in receiver.requests]
    assert len(ids) == 3 and len(set(ids)) == 1
    assert len({body for _, body in receiver.requests}) == 1
    assert [d.copy_index for d in sender.deliveries] == [0, 1, 2]


def test_reorder_mode_shuffles_a_batch_deterministically(receiver):
    events = [(SHOP, "orders/updated", {"id": i}) for i in range(20)]

    sender_for(receiver, reorder=True, seed=7).send_batch(events)
    first = [json.loads(body)["id"] for _, body in receiver.requests]
    again = Receiver()
    sender_for(again, reorder=True, seed=7).send_batch(events)
    second = [json.loads(body)["id"] for _, body in again.requests]

    assert sorted(first) == list(range(20))
    assert first != list(range(20))
    assert first == second


def test_drop_mode_loses_a_seeded_fraction_and_says_which(receiver):
    sender = sender_for(receiver, drop_ratio=0.3, seed=3)

    sender.send_batch((SHOP, "orders/create", {"id": i}) for i in range(200))

    dropped_ids = {d.payload()["id"] for d in sender.dropped}
    received_ids = {json.loads(body)["id"] for _, body in receiver.requests}
    assert 30 <= len(dropped_ids) <= 90
    assert dropped_ids.isdisjoint(received_ids)
    assert dropped_ids | received_ids == set(range(200))
    assert all(not d.attempts for d in sender.dropped)


def test_hold_mode_delivers_late_on_release(receiver):
    sender = sender_for(receiver, hold_ratio=1.0)

    delivery = sender.send(SHOP, "orders/create", {"id": 1})
    assert delivery.outcome == "held" and receiver.requests == []

    released = sender.release_held()
    assert [d.outcome for d in released] == ["delivered"]
    assert len(receiver.requests) == 1


def test_retries_non_2xx_with_exponential_backoff_and_the_same_payload():
    receiver = Receiver(statuses=[500, 503, 302, 200])
    waits: list[float] = []
    sender = WebhookSender(SECRET, receiver.app, sleep=waits.append, time_scale=0.001)

    delivery = sender.send(SHOP, "orders/create", {"id": 1})

    assert delivery.outcome == "delivered"
    assert [a.status for a in delivery.attempts] == [500, 503, 302, 200]
    assert [a.waited for a in delivery.attempts] == [
        0.0,
        FIRST_RETRY_DELAY,
        2 * FIRST_RETRY_DELAY,
        4 * FIRST_RETRY_DELAY,
    ]
    assert waits == pytest.approx([0.001 * a.waited for a in delivery.attempts[1:]])
    assert len({body for _, body in receiver.requests}) == 1
    assert len({h["X-Shopify-Webhook-Id"] for h, _ in receiver.requests}) == 1
    assert len({h["X-Shopify-Hmac-Sha256"] for h, _ in receiver.requests}) == 1


def test_gives_up_after_eight_retries_spread_over_four_hours():
    receiver = Receiver(statuses=[500] * 20)
    sender = WebhookSender(SECRET, receiver.app, time_scale=0.0)

    delivery = sender.send(SHOP, "orders/create", {"id": 1})

    assert delivery.outcome == "failed"
    assert len(delivery.attempts) == 1 + 8
    assert sum(a.waited for a in delivery.attempts) == pytest.approx(4 * 3600)
    assert sender.failed == [delivery]


def test_a_crashing_endpoint_counts_as_a_failed_attempt():
    app = Flask(__name__)
    calls = Counter()

    @app.post("/webhooks")
    def boom():
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("handler bug")
        return "", 200

    delivery = WebhookSender(SECRET, app, time_scale=0.0).send(SHOP, "orders/create", {"id": 1})

    assert [a.status for a in delivery.attempts] == [500, 200]


def test_timeouts_against_a_real_url_are_retried():
    from werkzeug.serving import make_server

    slow = Flask(__name__)
    calls = Counter()

    @slow.post("/webhooks")
    def handler():
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(1.5)
        return "", 200

    server = make_server("127.0.0.1", 0, slow, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        import httpx

        client = httpx.Client(timeout=httpx.Timeout(0.5))
        url = f"http://127.0.0.1:{server.server_port}/webhooks"
        delivery = WebhookSender(SECRET, client, url=url, time_scale=0.0).send(
            SHOP, "orders/create", {"id": 1}
        )
    finally:
        server.shutdown()

    assert delivery.attempts[0].status is None and "Timeout" in delivery.attempts[0].error
    assert delivery.outcome == "delivered"


def test_enqueue_waits_for_deliver_pending(receiver):
    sender = sender_for(receiver)

    sender.enqueue(SHOP, "app/uninstalled", {"id": 1})
    assert receiver.requests == []

    delivered = sender.deliver_pending()
    assert [d.outcome for d in delivered] == ["delivered"]
    assert sender.deliveries == delivered


def test_background_worker_delivers_queued_events(receiver):
    sender = sender_for(receiver)
    sender.start()
    try:
        for i in range(5):
            sender.enqueue(SHOP, "customers/update", {"id": i})
        deadline = time.time() + 5
        while len(receiver.requests) < 5 and time.time() < deadline:
            time.sleep(0.01)
    finally:
        sender.stop()

    assert sorted(json.loads(body)["id"] for _, body in receiver.requests) == list(range(5))


def test_redeliver_keeps_the_webhook_id(receiver):
    sender = sender_for(receiver)
    first = sender.send(SHOP, "orders/create", {"id": 1})

    again = sender.redeliver(first)

    assert again.webhook_id == first.webhook_id and again.body == first.body
    assert len(receiver.requests) == 2


def test_background_retries_do_not_hold_up_other_webhooks():
    app = Flask(__name__)
    arrivals: list[tuple[int, int, float]] = []
    failures = Counter()

    @app.post("/webhooks")
    def flaky():
        event = json.loads(request.get_data())["id"]
        arrivals.append((event, failures[event], time.monotonic()))
        if event == 1 and failures[event] < 2:
            failures[event] += 1
            return "", 503
        return "", 200

    # Delays of 56 s and 113 s compressed to 0.28 s and 0.56 s.
    sender = WebhookSender(SECRET, app, time_scale=0.005)
    sender.start()
    try:
        started = time.monotonic()
        sender.enqueue(SHOP, "orders/create", {"id": 1})
        sender.enqueue(SHOP, "orders/create", {"id": 2})
        deadline = started + 5
        while not (sender.deliveries and all(d.outcome == "delivered" for d in sender.deliveries)):
            assert time.monotonic() < deadline, [d.outcome for d in sender.deliveries]
            time.sleep(0.01)
    finally:
        sender.stop()

    order = [(event, tries) for event, tries, _ in arrivals]
    assert order.index((2, 0)) < order.index((1, 1))  # event 2 did not wait for event 1's retries
    first = next(d for d in sender.deliveries if d.payload()["id"] == 1)
    assert [a.status for a in first.attempts] == [503, 503, 200]
    assert [a.waited for a in first.attempts] == [0.0, FIRST_RETRY_DELAY, 2 * FIRST_RETRY_DELAY]
