"""Wake the worker and the syncer the moment there is work, instead of at their next idle poll.

PostgreSQL: triggers (app/models/processes.py) NOTIFY a channel when a webhook lands in the inbox
(`tsunagu_inbox`) and when a member's `sync_version` moves (`tsunagu_sync`); notifications are delivered on
commit, so a woken process always finds the committed row. A `Wakeup` holds one LISTEN connection and
`wait(timeout)` returns as soon as a notification arrives, or after `timeout` (the poll that still catches
anything without a notification: a replayed dead letter, a retry whose backoff ran out, a lost connection).
SQLite has no notifications: `wait` sleeps for the timeout, as the loops did before.
"""

from __future__ import annotations

import contextlib
import logging
import time

import psycopg
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

INBOX_CHANNEL = "tsunagu_inbox"
SYNC_CHANNEL = "tsunagu_sync"
CHANNELS = (INBOX_CHANNEL, SYNC_CHANNEL)


class Wakeup:
    """Sleep until `channel` is notified or `timeout` passes; a plain sleep where LISTEN is unavailable."""

    def __init__(self, engine: Engine, channel: str) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        self.channel = channel
        self._conninfo = (
            engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            if engine.dialect.name == "postgresql"
            else None
        )
        self._conn: psycopg.Connection | None = None
        self._warned = False  # one log line per outage, not one per poll
        self.woken = 0  # notifications that ended a wait early (for tests and logs)

    @property
    def listening(self) -> bool:
        return self._conninfo is not None

    def _connection(self) -> psycopg.Connection | None:
        if self._conninfo is None:
            return None
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
                self._conn.execute(f"LISTEN {self.channel}")  # a constant from CHANNELS, never input
                self._warned = False
            except psycopg.Error as exc:
                self._warn(f"cannot listen ({type(exc).__name__})")
                self._drop()
        return self._conn

    def wait(self, timeout: float) -> bool:
        """Return True when woken by a notification, False after `timeout` seconds without one."""
        conn = self._connection()
        if conn is None:
            time.sleep(timeout)
            return False
        started = time.monotonic()
        try:
            # Notifications queued meanwhile end the next waits at once: a spurious wake-up costs one
            # empty claim, never a missed row.
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                self.woken += 1
                return True
        except psycopg.Error as exc:  # server restarted or connection lost: poll, reconnect next time
            self._warn(f"connection lost ({type(exc).__name__})")
            self._drop()
            time.sleep(max(0.0, timeout - (time.monotonic() - started)))
        return False

    def _warn(self, what: str) -> None:
        if not self._warned:
            log.warning("wakeup: %s on %s; polling until it is back", what, self.channel)
            self._warned = True

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        self._drop()
