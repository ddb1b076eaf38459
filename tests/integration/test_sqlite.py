"""SQLite as the app configures it (app/sqlite.py): savepoints that roll back, writers that wait their turn.

Each test builds the app on a SQLite file of its own, the way `make demo` and a single-box deploy run it.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app import create_app, sqlite
from app.config import load_settings
from app.extensions import db
from app.models import Shop
from tests.conftest import TEST_ENV

HOLD = 0.6  # seconds the first writer keeps the write lock


@pytest.fixture
def sqlite_app(tmp_path):
    application = create_app(load_settings(dict(TEST_ENV, DATABASE_URL=f"sqlite:///{tmp_path}/app.sqlite3")))
    with application.app_context():
        db.create_all()
        yield application
        db.session.remove()
        db.engine.dispose()


def _shops(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Shop)).scalar_one()


def test_a_released_savepoint_rolls_back_with_its_outer_transaction(sqlite_app):
    engine = db.engine
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            session.add(Shop(domain="savepoint.myshopify.com"))
            session.commit()  # RELEASE SAVEPOINT: must not commit the outer transaction
        outer.rollback()
    assert _shops(engine) == 0


def test_a_write_after_a_read_waits_for_the_other_writer_instead_of_failing(sqlite_app):
    engine = db.engine
    locked, done = threading.Event(), threading.Event()

    def first_writer() -> None:
        with engine.connect() as conn, conn.begin():
            conn.execute(Shop.__table__.insert().values(domain="first.myshopify.com", status="installed"))
            locked.set()
            time.sleep(HOLD)
        done.set()

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert locked.wait(10)
    started = time.monotonic()
    with Session(engine) as session:
        with session.begin_nested():  # get-or-create style: a savepoint, a read, then the write
            assert session.scalar(select(func.count()).select_from(Shop)) in (0, 1)
            session.add(Shop(domain="second.myshopify.com"))
        session.commit()
    waited = time.monotonic() - started
    thread.join(10)
    assert done.is_set()
    assert waited >= HOLD * 0.5  # it waited for the lock ...
    assert _shops(engine) == 2  # ... and both writes are there


def test_foreign_keys_and_wal_are_on_for_every_connection(sqlite_app):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_the_test_suite_runs_sqlite_as_the_app_does(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the SQLite configuration")
        assert event.contains(db.engine, "begin", sqlite._begin)
        assert event.contains(db.engine, "connect", sqlite._on_connect)
