"""Per shop and per task: a failed task waits out a growing delay, and its failure is there to be shown.

A failure is kept as a lease the failure holds (table `shop_leases`, name `failed:<task>`): the holder says
how many failures in a row and of which exception type, `expires_at` when the task may run again. A lease
needs no new table, outlives the process (a restarted syncer keeps backing off), goes with the shop's
other leases on uninstall, and any syncer process sees it. Success deletes it. Only an exception's type is
kept: messages of database drivers and libraries can quote row values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models.shop_jobs import ShopLease

PREFIX = "failed:"
BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(minutes=15)


@dataclass(frozen=True)
class TaskFailure:
    """A task of a shop that failed its last `count` runs; it runs again from `retry_at`."""

    task: str
    count: int
    error: str  # the exception's type name
    retry_at: datetime | None


def delay(count: int) -> timedelta:
    """5 s after the first failure, doubling, at most 15 minutes."""
    return min(MAX_DELAY, BASE_DELAY * 2 ** max(count - 1, 0))


def failures(session: Session, shop_id: int) -> dict[str, TaskFailure]:
    """The shop's failed tasks by name (one indexed read)."""
    rows = session.scalars(
        select(ShopLease).where(ShopLease.shop_id == shop_id, ShopLease.name.startswith(PREFIX))
    )
    found = {}
    for row in rows:
        count, _, error = (row.holder or "").partition(" ")
        task = row.name.removeprefix(PREFIX)
        found[task] = TaskFailure(task, int(count) if count.isdigit() else 1, error, row.expires_at)
    return found


def is_due(failure: TaskFailure | None, now: datetime) -> bool:
    """Whether a task may run now (never failed, or its delay is over)."""
    return failure is None or failure.retry_at is None or failure.retry_at <= now


def record_failure(
    session: Session, shop_id: int, task: str, exc: BaseException, now: datetime, previous: TaskFailure | None
) -> TaskFailure:
    """Count one more failure of the task and set when it runs again; commits."""
    count = (previous.count if previous else 0) + 1
    failure = TaskFailure(task, count, type(exc).__name__, now + delay(count))
    holder = f"{count} {failure.error}"[:64]
    row = session.get(ShopLease, (shop_id, PREFIX + task))
    if row is None:
        session.add(
            ShopLease(shop_id=shop_id, name=PREFIX + task, holder=holder, expires_at=failure.retry_at)
        )
    else:
        row.holder, row.expires_at = holder, failure.retry_at
    session.commit()
    return failure


def clear(session: Session, shop_id: int, task: str) -> None:
    """The task ran well again: forget its failures; commits."""
    session.execute(delete(ShopLease).where(ShopLease.shop_id == shop_id, ShopLease.name == PREFIX + task))
    session.commit()
