"""SQLite done right: the one place the app's SQLite connections are configured (web, worker, syncer, tests).

pysqlite's own transaction handling (Python < 3.12) begins a transaction only before an INSERT/UPDATE/DELETE,
so SQLAlchemy's `begin_nested()` opens the real transaction and its `RELEASE SAVEPOINT` commits it, and a
transaction that read first takes its write lock late: SQLite then refuses the write at once ("database is
locked") without waiting out the busy timeout. The recipe from the SQLAlchemy documentation
(https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl)
switches the driver's handling off and lets SQLAlchemy emit BEGIN itself. Here that BEGIN is IMMEDIATE: every
transaction takes the write lock when it starts, waiting out the busy timeout for it, so a transaction that
reads and then writes never fails half-way (https://www.sqlite.org/lang_transaction.html). That makes any
transaction a writer for its whole length, so code must not keep one open across a slow call (a Shopify
request, a sleep): the syncer ends its transaction before calling Shopify.

Also per connection: WAL (readers and the one writer do not block each other; https://www.sqlite.org/wal.html),
synchronous=NORMAL (durable in WAL except against power loss of the last commits), and foreign keys enforced
as on PostgreSQL (https://www.sqlite.org/foreignkeys.html, off by default in SQLite).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

BUSY_TIMEOUT_SECONDS = 30.0  # how long a transaction waits for another one's write lock before failing


def engine_options(busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> dict[str, Any]:
    """create_engine() options for a SQLite URL (the listeners come from `configure`)."""
    # isolation_level=None: the driver never begins or commits by itself; the `begin` listener does.
    return {"connect_args": {"timeout": busy_timeout, "isolation_level": None}}


def configure(engine: Engine) -> Engine:
    """Attach the connection set-up and the explicit BEGIN IMMEDIATE to a SQLite engine (others untouched)."""
    if engine.dialect.name != "sqlite" or event.contains(engine, "begin", _begin):
        return engine
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _begin)
    return engine


def _on_connect(dbapi_connection, connection_record) -> None:
    dbapi_connection.isolation_level = None  # also when the URL's engine was built without engine_options
    cursor = dbapi_connection.cursor()
    try:
        if not _in_memory(dbapi_connection):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _in_memory(dbapi_connection) -> bool:
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return any(name == "main" and not path for _, name, path in rows)


def _begin(connection) -> None:
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    if connection.connection.driver_connection.in_transaction:
        return  # one DBAPI connection shared by several (an in-memory database's single connection)
    connection.exec_driver_sql("BEGIN IMMEDIATE")
