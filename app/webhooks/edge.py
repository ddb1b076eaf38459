"""The webhook edge's admission: a delivery we cannot store promptly is refused fast (503), never queued.

Shopify waits 5 s for an answer and retries a failed delivery up to 8 times over 4 hours
(https://shopify.dev/docs/apps/build/webhooks/troubleshooting-webhooks), so under overload an immediate 503
costs a delivery minutes at most, while an answer past 5 s costs the same retry plus the work already done.
A delivery is shed when it already waited in front of this process longer than the queue budget (the
`X-Request-Start` stamp of the platform's router or proxy), or longer than a tenth of it while a queue
stands (StandingQueue: overload, not a burst), when the pending inbox is above its high-water
mark, or when its write cannot start in time: no connection free within the wait budget, or not taken
into a group commit (app/webhooks/batch.py) within the queue budget. Nothing shed was acknowledged.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.config import Settings
from app.jobs.inbox import Delivery, InboxBusy, InboxWriter, pending_beyond, shop_of
from app.models.processes import beat
from app.models.shop import ShopStatus
from app.webhooks.batch import GroupCommit

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10  # advisory: Shopify keeps its own schedule
BACKLOG_EVERY = 5.0  # seconds between two reads of the backlog, per process


def queued_seconds(header: str | None, now: float) -> float | None:
    """How long ago a front proxy received the request, from X-Request-Start; None if absent or implausible.

    Accepts the usual spellings: milliseconds since the epoch (Heroku's router), or `t=` followed by
    seconds, milliseconds or microseconds (nginx `t=${msec}`, HAProxy). A spoofed value can only get that
    request refused: admission never lets a delivery through for it.
    """
    if not header or len(header) > 32:
        return None
    try:
        stamp = float(header.strip().removeprefix("t="))
    except ValueError:
        return None
    if stamp > 1e14:
        stamp /= 1e6
    elif stamp > 1e11:
        stamp /= 1e3
    waited = now - stamp
    return waited if 0.0 <= waited < 86_400 else None


class StandingQueue:
    """Tells a burst from overload by the queue time, as CoDel does (https://queue.acm.org/detail.cfm?id=2209336).

    A burst queues deliveries briefly and drains: each may wait up to the full queue budget. Overload keeps
    a queue standing: when every delivery of a whole interval waited longer than `target`, deliveries that
    waited longer than `target` are shed until an interval passes in which one did not. Queueing up to the
    budget under overload would hold each connection that long, and the sender's connections (finite, like
    any client's) would then carry fewer deliveries than arrive: the queue would move into the sender and
    grow there, past Shopify's 5 s, though every delivery reaching us is shed at once.
    """

    def __init__(self, target: float, interval: float) -> None:
        self.target = target
        self.interval = interval
        self._started = 0.0  # the interval being observed: since when, its smallest wait
        self._least = 0.0
        self.standing = False  # the last whole interval's verdict

    def shed(self, waited: float, now: float) -> bool:
        """Whether a delivery that waited `waited` seconds is to be shed (approximate across threads)."""
        if now - self._started >= self.interval:
            self.standing = self._least > self.target
            self._started, self._least = now, waited
        elif waited < self._least:
            self._least = waited
        return self.standing and waited > self.target


class Edge:
    """Per process: the inbox writer and its group commit (app/webhooks/batch.py), a short cache of installed
    shops, the backlog gate, the shed count."""

    def __init__(self, settings: Settings, url: str, options: dict) -> None:
        self.writer = InboxWriter(
            url, options, size=settings.webhook_max_inflight, wait_seconds=settings.webhook_db_wait_seconds
        )
        # A delivery waits for the commit in flight, then is written in the next one: that wait is bounded
        # like the wait in front of the process, not like a connection checkout (a slow commit is no outage).
        self.commits = GroupCommit(self.writer, settings.webhook_queue_budget_seconds)
        self.queue_budget = settings.webhook_queue_budget_seconds
        # A tenth of the budget, over half of it: 100 ms and 0.5 s with the default 1 s.
        self.standing = StandingQueue(self.queue_budget / 10, self.queue_budget / 2)
        self.shop_ttl = settings.webhook_shop_cache_seconds
        self.backlog_limit = settings.webhook_backlog_high_water
        self._shops: dict[str, tuple[float, tuple[int, str]]] = {}
        self._backlog = (-BACKLOG_EVERY, False)  # (read at, above the mark)
        self._backlog_lock = threading.Lock()
        self._shed_lock = threading.Lock()
        self.shed_count = 0
        self._reported = 0
        self._logged_at = 0.0
        self.holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def overloaded(self, request_start: str | None) -> str | None:
        """Why a delivery must be shed before any work is done on it, or None."""
        now = time.time()
        waited = queued_seconds(request_start, now)
        if waited is not None and (waited > self.queue_budget or self.standing.shed(waited, now)):
            return "queue_time"
        if self._backlog_full():
            return "backlog"
        return None

    def _backlog_full(self) -> bool:
        read_at, full = self._backlog
        if time.monotonic() - read_at < BACKLOG_EVERY or not self._backlog_lock.acquire(blocking=False):
            return full
        try:
            with self.writer.connect() as conn:
                full = pending_beyond(conn, self.backlog_limit)
        except (InboxBusy, SQLAlchemyError) as exc:
            # The insert that follows meets the same trouble and answers for it; the last reading stands.
            log.warning("webhook backlog not read: %s", type(exc).__name__)
        finally:
            self._backlog = (time.monotonic(), full)
            self._backlog_lock.release()
        return full

    def shop(self, domain: str) -> tuple[int, str] | None:
        """(id, status) of the shop; installed shops are cached for a few seconds (read on every delivery).

        Only installed shops are cached: a shop that has just installed is never refused for a stale entry,
        and one that has just uninstalled at worst gets a few more rows, which the worker drops.
        """
        now = time.monotonic()
        hit = self._shops.get(domain)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.writer.connect() as conn:
            found = shop_of(conn, domain)
        if found is not None and found[1] == ShopStatus.INSTALLED:
            self._shops[domain] = (now + self.shop_ttl, found)
        else:
            self._shops.pop(domain, None)
        return found

    def write(self, delivery: Delivery) -> bool:
        try:
            return self.commits.write(delivery)
        except Exception:
            self._shops.pop(delivery.shop_domain, None)  # e.g. a cached shop id that no longer exists
            raise

    def shed(self, reason: str) -> None:
        """Count a shed delivery; one log line per second per process at most (overload is no time to log)."""
        with self._shed_lock:
            self.shed_count += 1
            now = time.monotonic()
            quiet = now - self._logged_at < 1.0
            if not quiet:
                self._logged_at = now
        if not quiet:
            log.warning("webhook shed outcome=shed_%s total=%d", reason, self.shed_count)
        self.report()

    def report(self) -> None:
        """The shed count into this process's heartbeat row (at most every few seconds), read by /metrics."""
        if self.shed_count != self._reported:
            count = self.shed_count
            with Session(self.writer.engine) as session:
                if beat(session, "web", self.holder, processed=count):
                    self._reported = count
