"""The inbox worker: claim due rows under a lease, process each in one transaction, retry or dead-letter.

Any number of workers may run against PostgreSQL (claims use FOR UPDATE SKIP LOCKED); run one on SQLite.
A row's status change commits in the same transaction as the domain's writes, so a crash at any point
rolls both back and the row is processed again when its lease expires.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.config import Settings
from app.extensions import db
from app.jobs import inbox
from app.jobs.inbox import RetryPolicy
from app.jobs.wakeup import INBOX_CHANNEL, Wakeup
from app.models.inbox import InboxEvent, InboxStatus
from app.models.processes import beat
from app.shopify.payloads.rest import NormaliseError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """Tunables; `from_settings` takes them from the app's Settings (INBOX_* and PERIODIC_SECONDS)."""

    lease_seconds: float = 60.0
    batch_size: int = 10
    idle_sleep: float = 1.0
    periodic_seconds: float = 60.0  # how often the loop runs its scheduled jobs (each decides if it is due)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WorkerConfig:
        """The settings' tunables; an override that is not None (a command-line option) wins."""
        config = cls(
            lease_seconds=settings.inbox_lease_seconds,
            batch_size=settings.inbox_batch_size,
            idle_sleep=settings.inbox_idle_sleep,
            periodic_seconds=settings.periodic_seconds,
            retry=RetryPolicy(
                max_attempts=settings.inbox_max_attempts,
                base_seconds=settings.inbox_backoff_base_seconds,
                cap_seconds=settings.inbox_backoff_cap_seconds,
            ),
        )
        return replace(config, **{k: v for k, v in overrides.items() if v is not None})


def new_worker_id() -> str:
    """host:pid:random, so leases name a process an operator can find."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def describe(exc: BaseException) -> str:
    """A failure reason for last_error and logs, without personal data.

    Our own errors carry messages written to be safe; anything else is reduced to its type and the innermost
    frame, because driver and library messages can quote row values (emails, phones).
    """
    if isinstance(exc, NormaliseError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        kind = type(orig).__name__ if orig is not None else type(exc).__name__
        return f"{type(exc).__name__} ({kind})"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


def subject_lock_keys(row: InboxEvent) -> list[int]:
    """64-bit advisory-lock keys for what a row touches: its order (or customer) and its customer."""
    subjects = {
        f"{row.shop_domain}:{kind}:{value}"
        for kind, value in (("r", row.resource_id), ("c", row.customer_id))
        if value
    }
    return sorted(
        int.from_bytes(hashlib.blake2b(subject.encode(), digest_size=8).digest(), "big", signed=True)
        for subject in subjects
    )


def serialise_subject(session, row: InboxEvent) -> None:
    """PostgreSQL: rows about the same order or customer take turns instead of racing.

    Without it, orders/create and orders/paid of one order (or two first orders of one new customer) run
    side by side in two workers; one loses on a unique key and waits out a backoff. Transaction-scoped locks
    go with the commit or rollback; sorted keys mean two rows never wait on each other in a cycle.
    """
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite runs one worker
    for key in subject_lock_keys(row):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# Runs one inbox row in the worker's transaction and says what became of it (DONE or IGNORED).
Handler = Callable[[Session, InboxEvent], str]


class Worker:
    """One worker process's loop. `stop()` (SIGTERM) lets the current row finish, then returns."""

    def __init__(
        self,
        app: Flask,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
        periodic: Callable[[], None] | None = None,
        *,
        handle: Handler,
    ) -> None:
        self.app = app
        self.handle = handle
        self.config = config or WorkerConfig.from_settings(app.config["SETTINGS"])
        self.worker_id = worker_id or new_worker_id()
        self.periodic = periodic  # e.g. reconciliation when due; called between batches
        self._stopping = False
        self._last_periodic = 0.0
        self.processed = 0

    def stop(self) -> None:
        """Finish the row in hand, give back the rest of the batch, leave the loop."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def run(self, *, once: bool = False) -> int:
        """Loop until stopped (or, with once, until nothing is due); returns rows handled."""
        with self.app.app_context():
            # Woken by the inbox trigger on PostgreSQL the moment a webhook is recorded; else polls.
            wakeup = Wakeup(db.engine, INBOX_CHANNEL)
            failures = 0  # loop turns in a row that raised: the pause before the next grows
            try:
                while not self._stopping:
                    try:
                        handled = self._turn()
                        failures = 0
                    except Exception as exc:  # whatever escaped a row or a job: the process lives on
                        failures += 1
                        handled = 0
                        self._after_loop_failure(exc, failures)
                    if handled == 0:
                        if once:
                            break
                        wakeup.wait(self.config.idle_sleep)
            finally:
                wakeup.close()
                db.session.remove()
        return self.processed

    def _turn(self) -> int:
        """One turn of the loop: scheduled jobs when due, one batch, the heartbeat; returns rows claimed."""
        self._maybe_periodic()
        handled = self.drain_batch()
        beat(db.session, "worker", self.worker_id, processed=self.processed)  # /readyz, /metrics
        return handled

    def _after_loop_failure(self, exc: Exception, failures: int) -> None:
        """Log by exception type only (a driver's message can quote row values), drop the session's
        transaction and connection, and pause: idle_sleep doubled per failure in a row, at most 30 s."""
        log.error("worker loop failed (%d in a row): %s", failures, describe(exc))
        with contextlib.suppress(Exception):  # the connection may be gone with the database
            db.session.rollback()
        with contextlib.suppress(Exception):
            db.session.remove()
        time.sleep(min(30.0, self.config.idle_sleep * 2 ** min(failures, 10)))

    def _maybe_periodic(self) -> None:
        if self.periodic is None:
            return
        now = time.monotonic()
        if now - self._last_periodic < self.config.periodic_seconds:
            return
        self._last_periodic = now
        try:
            self.periodic()
        except Exception as exc:  # a failing side job must not stop the inbox
            db.session.rollback()
            log.error("worker periodic job failed: %s", describe(exc))

    def drain_batch(self) -> int:
        """Claim one batch and process it row by row; returns how many rows were claimed."""
        try:
            ids = inbox.claim(
                db.session,
                self.worker_id,
                limit=self.config.batch_size,
                lease_seconds=self.config.lease_seconds,
            )
        except SQLAlchemyError as exc:  # database away for a moment: wait and try again
            db.session.rollback()
            log.warning("worker claim failed: %s", describe(exc))
            time.sleep(self.config.idle_sleep)
            return 0
        for position, row_id in enumerate(ids):
            if self._stopping:
                try:
                    inbox.release(db.session, ids[position:], self.worker_id)
                except SQLAlchemyError as exc:  # database away: the leases run out and the rows come back
                    db.session.rollback()
                    log.warning("worker could not give back %d rows: %s", len(ids) - position, describe(exc))
                break
            self.process(row_id)
        return len(ids)

    def process(self, row_id: int) -> str:
        """Process one claimed row in one transaction; returns the row's resulting state (or 'lost')."""
        session = db.session
        session.expire_all()
        try:
            attempts = inbox.start(session, row_id, self.worker_id)  # committed before the row runs
            row = session.get(InboxEvent, row_id, populate_existing=True) if attempts is not None else None
        except SQLAlchemyError as exc:  # database away since the claim: the lease brings the row back
            session.rollback()
            log.warning("inbox row=%d could not be started: %s", row_id, describe(exc))
            return "lost"
        if row is None or row.locked_by != self.worker_id:
            session.rollback()
            return "lost"
        topic, shop, delivery = row.topic, row.shop_domain, row.delivery_id
        if row.attempts > self.config.retry.max_attempts:
            # Only reachable through expired leases: every start of this row ended with its worker dead (a
            # poison row that crashes the process must not take every worker down forever).
            session.rollback()
            reason = "lease expired on every attempt (the worker died while processing it)"
            return inbox.fail(session, row_id, self.worker_id, reason, self.config.retry, permanent=True)
        try:
            serialise_subject(session, row)
            outcome = self.handle(session, row)
            session.flush()
            if not inbox.complete(session, row_id, self.worker_id, outcome):
                # Our lease ran out and another worker took the row: its attempt wins, ours never happened.
                session.rollback()
                log.warning("inbox row=%d topic=%s lease lost; rolled back", row_id, topic)
                return "lost"
            session.commit()
        except Exception as exc:
            session.rollback()
            reason = describe(exc)
            try:
                state = inbox.fail(
                    session,
                    row_id,
                    self.worker_id,
                    reason,
                    self.config.retry,
                    permanent=isinstance(exc, NormaliseError),
                )
            except SQLAlchemyError as store_exc:
                # Cannot even record the failure (database away): the lease expires and the row comes back.
                session.rollback()
                log.error("inbox row=%d could not record failure: %s", row_id, describe(store_exc))
                return "lost"
            log.warning(
                "inbox row=%d topic=%s shop=%s delivery=%s outcome=%s reason=%s",
                row_id,
                topic,
                shop,
                delivery,
                "dead" if state == InboxStatus.DEAD else "retry",
                reason,
            )
            return state
        self.processed += 1
        log.info(
            "inbox row=%d topic=%s shop=%s delivery=%s outcome=%s", row_id, topic, shop, delivery, outcome
        )
        return outcome
