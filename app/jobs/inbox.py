"""The inbox's life cycle: record a delivery, claim due rows under a lease, complete, retry, dead-letter."""

from __future__ import annotations

import functools
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, create_engine, func, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app import sqlite as sqlite_setup
from app.models.inbox import InboxEvent, InboxStatus
from app.models.shop import Shop
from app.models.types import rows_affected, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified delivery, ready to be stored."""

    shop_domain: str
    topic: str
    delivery_id: str
    payload: str
    source: str = "shopify"
    shop_id: int | None = None
    event_id: str | None = None
    api_version: str | None = None
    triggered_at: datetime | None = None
    resource_id: str | None = None
    customer_id: str | None = None
    status: str = (
        InboxStatus.PENDING
    )  # InboxStatus.IGNORED for topics we do not handle: kept for the record, never processed


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failing row is retried before it is dead-lettered."""

    max_attempts: int = 8
    base_seconds: float = 5.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff with 'equal jitter': half fixed, half random, so retries spread out."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))


def record(session: Session, delivery: Delivery) -> bool:
    """INSERT the delivery unless (source, shop, delivery id) exists; True when a new row was written."""
    # ON CONFLICT DO NOTHING: a duplicate costs no exception, no savepoint and no second row.
    stmt = _insert_statement(session.get_bind().dialect.name)
    # RETURNING, not rowcount: drivers report -1 for an INSERT that returns rows. Run on the session's
    # connection as a Core statement: the ORM's bulk-insert machinery tripled the webhook request's CPU.
    return session.connection().execute(stmt, _values(delivery)).scalar_one_or_none() is not None


def _values(delivery: Delivery) -> dict[str, Any]:
    now = utcnow()
    return {
        "source": delivery.source,
        "shop_domain": delivery.shop_domain,
        "shop_id": delivery.shop_id,
        "topic": delivery.topic,
        "delivery_id": delivery.delivery_id,
        "event_id": delivery.event_id,
        "api_version": delivery.api_version,
        "triggered_at": delivery.triggered_at,
        "payload": delivery.payload,
        "resource_id": delivery.resource_id,
        "customer_id": delivery.customer_id,
        "status": delivery.status,
        "received_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "processed_at": now if delivery.status == InboxStatus.IGNORED else None,
    }


@functools.cache
def _insert_statement(dialect: str):
    """One statement per dialect, values bound per call, so SQLAlchemy compiles it once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = InboxEvent.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["source", "shop_domain", "delivery_id"])
        .returning(table.c.id)
    )


_shops, _rows = Shop.__table__.c, InboxEvent.__table__.c
SHOP_BY_DOMAIN = select(_shops.id, _shops.status).where(_shops.domain == bindparam("domain"))
# The claim index (status, next_attempt_at) answers this by reading at most `offset + 1` index entries.
PENDING_BEYOND = (
    select(_rows.id).where(_rows.status == InboxStatus.PENDING).limit(1).offset(bindparam("offset"))
)


class InboxBusy(RuntimeError):
    """No connection for the insert within the wait budget: the caller sheds the delivery (503)."""


def shop_of(connection: Connection | Session, domain: str) -> tuple[int, str] | None:
    """(id, status) of the shop with this domain, or None."""
    row = connection.execute(SHOP_BY_DOMAIN, {"domain": domain}).one_or_none()
    return (row.id, row.status) if row is not None else None


def pending_beyond(connection: Connection, count: int) -> bool:
    """Whether more than `count` rows are pending (reads at most count + 1 entries of the claim index)."""
    return connection.execute(PENDING_BEYOND, {"offset": count}).first() is not None


class InboxWriter:
    """The webhook edge's durable insert: one round trip, on a small pool of its own, in autocommit.

    The INSERT ... ON CONFLICT DO NOTHING is its own transaction (no BEGIN, no COMMIT), durable when it
    returns. No pre-ping: a dead connection fails its statement, which runs once more on a fresh one (a
    duplicate inserts nothing). The pool's size bounds the inserts in flight per process and its timeout is
    the wait budget: past it the caller answers 503 (Shopify retries) instead of queueing past its 5 s.
    """

    def __init__(
        self,
        url: str,
        options: dict[str, Any],
        *,
        size: int,
        wait_seconds: float,
    ) -> None:
        kept = {k: v for k, v in options.items() if k == "connect_args"}
        self.engine = sqlite_setup.configure(
            create_engine(
                url,
                pool_size=size,
                max_overflow=0,
                pool_timeout=wait_seconds,
                pool_pre_ping=False,
                # The option where app/sqlite.py looks too, so it never issues BEGIN IMMEDIATE here.
                isolation_level="AUTOCOMMIT",
                execution_options={"isolation_level": "AUTOCOMMIT"},
                **kept,
            )
        )
        # Compiled once to the driver's SQL, with each column's bind processor (SQLite keeps timestamps as
        # text): the request then pays the driver's execute alone, not SQLAlchemy's per-statement work.
        dialect = self.engine.dialect
        columns = list(_values(Delivery(shop_domain="", topic="", delivery_id="", payload="")))
        compiled = _insert_statement(dialect.name).compile(dialect=dialect, column_keys=columns)
        self._sql = compiled.string
        self._order = compiled.positiontup  # positional paramstyles (SQLite); None for named (psycopg)
        table = InboxEvent.__table__
        self._processors = {
            name: proc
            for name in compiled.binds
            if (proc := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }

    def connect(self) -> Connection:
        return self._checkout(self.engine.connect)

    @staticmethod
    def _checkout(get):
        try:
            return get()
        except sa_exc.TimeoutError as exc:
            raise InboxBusy("no database connection within the wait budget") from exc

    def write(self, delivery: Delivery) -> bool:
        """INSERT unless a duplicate; True when a row was written. InboxBusy: no connection in time."""
        values = _values(delivery)
        for name, proc in self._processors.items():
            values[name] = proc(values[name])
        params = [values[name] for name in self._order] if self._order else values
        for attempt in (1, 2):
            raw = self._checkout(self.engine.raw_connection)
            try:
                cursor = raw.cursor()
                cursor.execute(self._sql, params)
                created = bool(cursor.fetchall())  # drained: SQLite commits a RETURNING statement when done
                cursor.close()
                return created
            except self.engine.dialect.loaded_dbapi.Error as exc:
                disconnected = self.engine.dialect.is_disconnect(exc, raw.dbapi_connection, None)
                if disconnected:
                    raw.invalidate(exc)  # a fresh connection next time (no pre-ping: checked on use)
                if attempt == 2 or not disconnected:
                    raise sa_exc.DBAPIError.instance(
                        self._sql, None, exc, self.engine.dialect.loaded_dbapi.Error
                    ) from exc
            finally:
                raw.close()
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def _due(now: datetime):
    """Rows a worker may take: pending and due, or processing under a lease that has run out."""
    return or_(
        and_(InboxEvent.status == InboxStatus.PENDING, InboxEvent.next_attempt_at <= now),
        and_(InboxEvent.status == InboxStatus.PROCESSING, InboxEvent.lease_expires_at < now),
    )


def claim(session: Session, worker_id: str, *, limit: int, lease_seconds: float) -> list[int]:
    """Lease up to `limit` due rows to this worker and commit; returns their ids, oldest first.

    PostgreSQL: SKIP LOCKED lets any number of workers claim side by side without waiting on each other.
    The UPDATE repeats the due condition, so a row another worker took in between is never taken twice.
    A claim counts no attempt (`start` does, per row): if the worker dies, the rows it had not started come
    back through the expired lease exactly as they were.
    """
    now = utcnow()
    candidates = (
        select(InboxEvent.id)
        .where(_due(now))
        .order_by(InboxEvent.next_attempt_at, InboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.execute(candidates).scalars())
    if not ids:
        session.rollback()
        return []
    claimed = session.execute(
        update(InboxEvent)
        .where(InboxEvent.id.in_(ids), _due(now))
        .values(
            status=InboxStatus.PROCESSING,
            locked_by=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        .returning(InboxEvent.id)
        .execution_options(synchronize_session=False)
    ).scalars()
    result = sorted(claimed)
    session.commit()
    return result


def start(session: Session, row_id: int, worker_id: str) -> int | None:
    """Count an attempt for a claimed row about to run, and commit it before it runs; None if not ours.

    Committed first, so a row that kills its worker (a crash, the OOM killer) is charged for it even though
    its own transaction is lost; the rest of the batch is not charged for what it never started.
    """
    attempts = session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.id == row_id,
            InboxEvent.locked_by == worker_id,
            InboxEvent.status == InboxStatus.PROCESSING,
        )
        .values(attempts=InboxEvent.attempts + 1)
        .returning(InboxEvent.attempts)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    session.commit()
    return attempts


def complete(session: Session, row_id: int, worker_id: str, status: str = InboxStatus.DONE) -> bool:
    """Mark a row finished in the caller's transaction; False if the lease was lost (caller rolls back)."""
    result = session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.id == row_id,
            InboxEvent.locked_by == worker_id,
            InboxEvent.status == InboxStatus.PROCESSING,
        )
        # A row closed unprocessed keeps why (set by `refuse`); a processed one forgets earlier failures.
        .values(
            status=status,
            processed_at=utcnow(),
            lease_expires_at=None,
            last_error=None if status == InboxStatus.DONE else InboxEvent.last_error,
        )
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result) == 1


def refuse(row: InboxEvent, reason: str) -> str:
    """Close a row without acting on it, keeping the reason for the operator; handlers return this.

    `reason` is written by our code (no body values): it lands in last_error and in the log line.
    """
    row.last_error = f"refused: {reason}"[:2000]
    log.warning("inbox row=%s topic=%s shop=%s refused: %s", row.id, row.topic, row.shop_domain, reason)
    return InboxStatus.IGNORED


def fail(
    session: Session, row_id: int, worker_id: str, reason: str, policy: RetryPolicy, *, permanent: bool
) -> str:
    """After a failed try: pending again with backoff, or dead when permanent or out of tries; commits."""
    row = session.execute(
        select(InboxEvent.attempts).where(InboxEvent.id == row_id, InboxEvent.locked_by == worker_id)
    ).scalar_one_or_none()
    if row is None:
        session.rollback()
        return "lost"
    attempts = row
    dead = permanent or attempts >= policy.max_attempts
    values: dict[str, object] = {"last_error": reason[:2000], "lease_expires_at": None, "locked_by": None}
    if dead:
        values.update(status=InboxStatus.DEAD, processed_at=utcnow())
    else:
        values.update(status=InboxStatus.PENDING, next_attempt_at=utcnow() + policy.delay(attempts))
    session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.id == row_id,
            InboxEvent.locked_by == worker_id,
            InboxEvent.status == InboxStatus.PROCESSING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return InboxStatus.DEAD if dead else InboxStatus.PENDING


def release(session: Session, row_ids: list[int], worker_id: str) -> None:
    """Give back rows claimed but not started (SIGTERM): pending again (no attempt was counted for them)."""
    if not row_ids:
        return
    session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.id.in_(row_ids),
            InboxEvent.locked_by == worker_id,
            InboxEvent.status == InboxStatus.PROCESSING,
        )
        .values(
            status=InboxStatus.PENDING,
            locked_by=None,
            lease_expires_at=None,
            next_attempt_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


class ReplayRefused(ValueError):
    """The row cannot be replayed (unknown, or its body was redacted)."""


def replay(session: Session, row_id: int) -> InboxEvent:
    """Queue a row again (dead-lettered, or done and worth re-checking); the ledger keeps it idempotent."""
    row = session.get(InboxEvent, row_id)
    if row is None:
        raise ReplayRefused(f"no inbox row {row_id}")
    if row.redacted_at is not None:
        raise ReplayRefused(f"inbox row {row_id} was redacted; its body is gone")
    row.status = InboxStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.lease_expires_at = None
    row.locked_by = None
    row.last_error = None
    row.processed_at = None
    session.commit()
    return row


def counts(session: Session) -> dict[str, int]:
    """Rows per state (every state listed, zeros included)."""
    found = dict(session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all())
    return {status: int(found.get(status, 0)) for status in InboxStatus}


def expired_leases(session: Session) -> int:
    """Rows whose worker's lease ran out (a worker died): shown by `flask inbox`."""
    return int(
        session.scalar(
            select(func.count()).where(
                InboxEvent.status == InboxStatus.PROCESSING, InboxEvent.lease_expires_at < utcnow()
            )
        )
        or 0
    )
