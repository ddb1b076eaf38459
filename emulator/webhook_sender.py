"""Delivers webhooks as Shopify does: signed, retried, and on demand duplicated, reordered, late or lost."""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from emulator.transport import emulator_transport

# "Retried a total of 8 times over 4 hours using an exponential backoff schedule" with the original payload
# (https://shopify.dev/changelog/updates-to-webhook-retry-mechanism): delays d, 2d, ..., 128d sum to 4 h.
MAX_RETRIES = 8
FIRST_RETRY_DELAY = 4 * 3600 / (2**MAX_RETRIES - 1)
# Shopify gives an endpoint 1 s to connect and 5 s to answer before it counts the attempt as failed.
DELIVERY_TIMEOUT = httpx.Timeout(5.0, connect=1.0)
WSGI_URL = "http://127.0.0.1/webhooks"


def sign(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 over the exact body bytes."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Attempt:
    """One HTTP try of a delivery."""

    number: int
    waited: float  # backoff before this try in Shopify time (seconds), before time_scale compression
    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Delivery:
    """One webhook delivery (and, in duplicate mode, each extra copy of it) with every attempt made."""

    shop: str
    topic: str
    webhook_id: str
    event_id: str
    body: bytes
    headers: dict[str, str]
    copy_index: int = 0
    outcome: str = "pending"  # delivered | retrying | failed | dropped | held
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        """HTTP status of the last attempt (None if never sent or the connection failed)."""
        return self.attempts[-1].status if self.attempts else None

    def payload(self) -> dict:
        """The JSON body as sent."""
        return json.loads(self.body)


class WebhookSender:
    """Sends webhooks to a URL, an httpx.Client or an in-process WSGI app, recording every outcome."""

    def __init__(
        self,
        api_secret: str,
        target: str | httpx.Client | Callable,
        *,
        url: str | None = None,
        api_version: str = "2026-07",
        seed: int = 0,
        duplicate: int = 1,
        drop_ratio: float = 0.0,
        hold_ratio: float = 0.0,
        latency: float = 0.0,
        reorder: bool = False,
        max_retries: int = MAX_RETRIES,
        first_retry_delay: float = FIRST_RETRY_DELAY,
        time_scale: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_secret = api_secret
        self.api_version = api_version
        self.duplicate = duplicate
        self.drop_ratio = drop_ratio
        self.hold_ratio = hold_ratio
        self.latency = latency
        self.reorder = reorder
        self.max_retries = max_retries
        self.first_retry_delay = first_retry_delay
        # 1.0 waits Shopify's real backoff; tests pass e.g. 0.0 or 1e-4 to compress 4 hours into nothing.
        self.time_scale = time_scale
        self.sleep = sleep
        self.clock = clock
        self.deliveries: list[Delivery] = []
        self._random = random.Random(seed)
        self._client, self._url = _client_for(target, url)
        self._held: list[Delivery] = []
        self._queue: list[Delivery] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._retries: list[tuple[float, int, Delivery, float]] = []
        self._sequence = itertools.count()
        self._worker: threading.Thread | None = None
        self._stopping = False

    # -- what tests read ------------------------------------------------------------------------------
    @property
    def dropped(self) -> list[Delivery]:
        """Deliveries the drop mode swallowed (never sent)."""
        return [d for d in self.deliveries if d.outcome == "dropped"]

    @property
    def delivered(self) -> list[Delivery]:
        """Deliveries that got a 2xx."""
        return [d for d in self.deliveries if d.outcome == "delivered"]

    @property
    def failed(self) -> list[Delivery]:
        """Deliveries that exhausted their retries."""
        return [d for d in self.deliveries if d.outcome == "failed"]

    # -- sending ----------------------------------------------------------------------------------------
    def send(
        self,
        shop: str,
        topic: str,
        payload: dict | bytes,
        webhook_id: str | None = None,
        event_id: str | None = None,
        api_version: str | None = None,
    ) -> Delivery:
        """Deliver one event now (with duplicates, drops and holds as configured); returns the first copy."""
        copies = self._prepare(shop, topic, payload, webhook_id, event_id, api_version)
        for delivery in copies:
            self._dispatch(delivery)
        return copies[0]

    def send_batch(self, events: Iterable[tuple[str, str, dict | bytes]]) -> list[Delivery]:
        """Deliver several events; in reorder mode they go out shuffled (seeded)."""
        batch = [d for shop, topic, payload in events for d in self._prepare(shop, topic, payload)]
        self._shuffle(batch)
        for delivery in batch:
            self._dispatch(delivery)
        return batch

    def release_held(self) -> list[Delivery]:
        """Deliver the deliveries hold mode kept back (late webhooks), shuffled in reorder mode."""
        with self._lock:
            held, self._held = self._held, []
        self._shuffle(held)
        for delivery in held:
            self._attempt_all(delivery)
        return held

    def redeliver(self, delivery: Delivery) -> Delivery:
        """Send an already-made delivery again with the same id and body (a manual Shopify resend)."""
        again = Delivery(
            delivery.shop,
            delivery.topic,
            delivery.webhook_id,
            delivery.event_id,
            delivery.body,
            dict(delivery.headers),
            copy_index=delivery.copy_index + 1,
        )
        with self._lock:
            self.deliveries.append(again)
        self._attempt_all(again)
        return again

    # -- queueing (EmulatorState.on_event) ------------------------------------------------------------------
    def enqueue(self, shop: str, topic: str, payload: dict | bytes) -> None:
        """Queue an event without sending it in the caller's thread (the hook for EmulatorState.on_event)."""
        copies = self._prepare(shop, topic, payload, record=False)
        with self._wake:
            self._queue.extend(copies)
            self._wake.notify()

    def deliver_pending(self) -> list[Delivery]:
        """Send everything queued so far, in this thread (tests call this after acting on the emulator)."""
        with self._lock:
            batch, self._queue = self._queue, []
            self.deliveries.extend(batch)
        self._shuffle(batch)
        for delivery in batch:
            self._dispatch(delivery)
        return batch

    def start(self) -> None:
        """Deliver queued events from a background thread (the standalone server does this)."""
        if self._worker is not None:
            return
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop the background thread after the current batch."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._worker is not None:
            self._worker.join(timeout=5)
            self._worker = None

    def _run(self) -> None:
        # Retries are scheduled, not slept on: one failing webhook must not hold up the others.
        while True:
            with self._wake:
                while not self._stopping and not self._queue and not self._retry_due():
                    self._wake.wait(self._retries[0][0] - time.monotonic() if self._retries else None)
                if self._stopping:
                    return
                batch, self._queue = self._queue, []
                self.deliveries.extend(batch)
                due = []
                while self._retry_due():
                    _, _, delivery, waited = heapq.heappop(self._retries)
                    due.append((delivery, waited))
            self._shuffle(batch)
            for delivery in batch:
                self._dispatch(delivery, background=True)
            for delivery, waited in due:
                self._try_in_background(delivery, waited)

    def _retry_due(self) -> bool:
        return bool(self._retries) and self._retries[0][0] <= time.monotonic()

    def _try_in_background(self, delivery: Delivery, waited: float) -> None:
        if self._try_once(delivery, waited):
            return
        wait = self._next_wait(delivery)
        with self._lock:
            due_at = time.monotonic() + wait * self.time_scale
            heapq.heappush(self._retries, (due_at, next(self._sequence), delivery, wait))

    # -- internals ------------------------------------------------------------------------------------------
    def _prepare(
        self,
        shop: str,
        topic: str,
        payload: dict | bytes,
        webhook_id: str | None = None,
        event_id: str | None = None,
        api_version: str | None = None,
        record: bool = True,
    ) -> list[Delivery]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        webhook_id = webhook_id or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-API-Version": api_version or self.api_version,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.fromtimestamp(self.clock(), UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "X-Shopify-Hmac-Sha256": sign(body, self.api_secret),
        }
        copies = [
            Delivery(shop, topic, webhook_id, headers["X-Shopify-Event-Id"], body, headers, copy_index=i)
            for i in range(max(1, self.duplicate))
        ]
        if record:
            with self._lock:
                self.deliveries.extend(copies)
        return copies

    def _dispatch(self, delivery: Delivery, background: bool = False) -> None:
        with self._lock:
            if self._random.random() < self.drop_ratio:
                delivery.outcome = "dropped"
                return
            if self._random.random() < self.hold_ratio:
                delivery.outcome = "held"
                self._held.append(delivery)
                return
        if self.latency:
            self.sleep(self.latency * self.time_scale)
        if background:
            self._try_in_background(delivery, 0.0)
        else:
            self._attempt_all(delivery)

    def _attempt_all(self, delivery: Delivery) -> None:
        waited = 0.0
        while not self._try_once(delivery, waited):
            waited = self._next_wait(delivery)
            self.sleep(waited * self.time_scale)

    def _next_wait(self, delivery: Delivery) -> float:
        """Backoff before the next try, in Shopify time: d, 2d, 4d, ... after the 1st, 2nd, 3rd failure."""
        return self.first_retry_delay * 2 ** (len(delivery.attempts) - 1)

    def _try_once(self, delivery: Delivery, waited: float) -> bool:
        """One HTTP try; True once the delivery is finished (delivered, or out of retries)."""
        attempt = Attempt(number=len(delivery.attempts) + 1, waited=waited)
        try:
            response = self._client.post(self._url, content=delivery.body, headers=delivery.headers)
            attempt.status = response.status_code
        except httpx.HTTPError as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
        delivery.attempts.append(attempt)
        if attempt.ok:
            delivery.outcome = "delivered"
        elif len(delivery.attempts) > self.max_retries:
            delivery.outcome = "failed"
        else:
            delivery.outcome = "retrying"
            return False
        return True

    def _shuffle(self, batch: list[Delivery]) -> None:
        if self.reorder:
            with self._lock:
                self._random.shuffle(batch)


def _client_for(target: str | httpx.Client | Callable, url: str | None) -> tuple[httpx.Client, str]:
    """A URL gets a real client with Shopify's timeouts; a WSGI app is called in-process."""
    if isinstance(target, str):
        return httpx.Client(timeout=DELIVERY_TIMEOUT, follow_redirects=False), url or target
    if isinstance(target, httpx.Client):
        return target, url or WSGI_URL
    return httpx.Client(transport=emulator_transport(target), follow_redirects=False), url or WSGI_URL
