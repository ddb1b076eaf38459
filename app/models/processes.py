"""How the worker and syncer processes coordinate: PostgreSQL NOTIFY triggers that wake them when there is
work (app/jobs/wakeup.py), and the heartbeats they leave (read by /readyz and /metrics).

The triggers are statement-level: one notification per statement at most, none on SQLite, and no extra round
trip in the webhook request or the worker's transaction. The same DDL is in migration 0002.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import DDL, BigInteger, Index, String, delete, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.extensions import Model, db
from app.models.inbox import InboxEvent
from app.models.member import Member
from app.models.types import UTCDateTime, utcnow

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION tsunagu_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$
"""
INBOX_TRIGGER = """
CREATE TRIGGER inbox_events_notify AFTER INSERT ON inbox_events
FOR EACH STATEMENT EXECUTE FUNCTION tsunagu_notify('tsunagu_inbox')
"""
MEMBERS_TRIGGER = """
CREATE TRIGGER members_notify AFTER INSERT OR UPDATE OF sync_version ON members
FOR EACH STATEMENT EXECUTE FUNCTION tsunagu_notify('tsunagu_sync')
"""
DROP = (
    "DROP TRIGGER IF EXISTS members_notify ON members",
    "DROP TRIGGER IF EXISTS inbox_events_notify ON inbox_events",
    "DROP FUNCTION IF EXISTS tsunagu_notify()",
)

# The function once, before any table; each trigger when its table is created.
event.listen(db.metadata, "before_create", DDL(NOTIFY_FUNCTION).execute_if(dialect="postgresql"))
event.listen(InboxEvent.__table__, "after_create", DDL(INBOX_TRIGGER).execute_if(dialect="postgresql"))
event.listen(Member.__table__, "after_create", DDL(MEMBERS_TRIGGER).execute_if(dialect="postgresql"))


log = logging.getLogger(__name__)

BEAT_EVERY = 5.0  # seconds: at most one write per process this often, however fast its loop turns
FORGET_AFTER = timedelta(hours=1)  # rows of processes silent this long are deleted (restarts, scale-downs)
_last_write: dict[tuple[str, str], float] = {}


class ProcessHeartbeat(Model):
    """One row per running process of a kind (worker, syncer), refreshed every few seconds."""

    __tablename__ = "process_heartbeats"
    __table_args__ = (Index("ix_process_heartbeats_kind_last_seen", "kind", "last_seen"),)

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # worker | syncer
    holder: Mapped[str] = mapped_column(String(64), primary_key=True)  # host:pid:random, as in leases
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Worker: inbox rows processed since the process started, exported as its counter by /metrics.
    processed: Mapped[int] = mapped_column(BigInteger, default=0)


def beat(
    session: Session,
    kind: str,
    holder: str,
    *,
    processed: int | None = None,
    force: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Say `holder` (a process of `kind`) is alive; True when a row was written. Commits the session.

    Call it where the loop's session has nothing pending. At most one write per BEAT_EVERY seconds per
    process unless `force`; a database error is logged and swallowed: a heartbeat must never stop a loop.
    """
    key = (kind, holder)
    started = clock()
    if not force and started - _last_write.get(key, -math.inf) < BEAT_EVERY:
        return False
    now = utcnow()
    table = ProcessHeartbeat.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    changes: dict[str, object] = {"last_seen": now}
    if processed is not None:
        changes["processed"] = processed
    row = {"kind": kind, "holder": holder, "started_at": now, "last_seen": now, "processed": processed or 0}
    try:
        session.execute(
            insert(table).values(**row).on_conflict_do_update(index_elements=["kind", "holder"], set_=changes)
        )
        session.execute(delete(table).where(table.c.last_seen < now - FORGET_AFTER))
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("heartbeat of %s %s not written: %s", kind, holder, type(exc).__name__)
        return False
    _last_write[key] = started
    return True
