"""Test databases: a throwaway SQLite file, or a throwaway database on the PostgreSQL server."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def backend() -> str:
    """'postgres' when TEST_DATABASE_URL points at PostgreSQL, else 'sqlite'."""
    return "postgres" if os.environ.get("TEST_DATABASE_URL", "").startswith("postgres") else "sqlite"


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A fresh, empty database URL for one pytest run, removed afterwards.

    PostgreSQL: a database of its own on the TEST_DATABASE_URL server, so parallel runs never collide.
    """
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        with tempfile.TemporaryDirectory(prefix="tsunagu-test-") as tmp:
            yield f"sqlite:///{tmp}/test.sqlite3"
        return
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"tsunagu_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
