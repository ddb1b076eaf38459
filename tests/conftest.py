"""Shared fixtures: the app on a throwaway database, one rolled-back transaction per test, no network."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask_sqlalchemy.session import Session as FlaskSession
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from app import create_app
from app.config import load_settings
from app.extensions import db
from scripts.pgtemp import backend, throwaway_database

# The emulator's fixtures (a Shopify stand-in wired in as the app's Shopify) are a pytest plugin of its own.
pytest_plugins = ["emulator.fixtures"]

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

TEST_ENV = {
    "TSUNAGU_ENV": "testing",
    "SHOPIFY_API_KEY": "test-api-key",
    "SHOPIFY_API_SECRET": "test-api-secret",
    "SHOPIFY_API_SECRET_PREVIOUS": "test-api-secret-previous",
    "TOKEN_ENCRYPTION_KEYS": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "APP_URL": "https://tsunagu.test",
    "SHOPIFY_ADMIN_ORIGIN": "",
}


def pytest_report_header(config):
    return f"tsunagu test database: {backend()}"


def pytest_collection_modifyitems(config, items):
    if backend() == "postgres":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, shared by every browser test of a session (tests/browser.py)."""
    from tests.browser import launch

    yield from launch()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url):
    """The app on a fresh schema built from the models (migrations are checked separately)."""
    env = dict(TEST_ENV, DATABASE_URL=database_url)
    application = create_app(load_settings(env), overrides={"TESTING": True})
    with application.app_context():
        db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


class _ConnectionSession(FlaskSession):
    """Flask-SQLAlchemy's get_bind() returns the engine and ignores `bind`: honour the test's connection."""

    def get_bind(self, *args, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(*args, **kwargs)


@pytest.fixture
def session(app):
    """A session whose work is rolled back after the test, however much it commits."""
    with app.app_context():
        # SQLite runs exactly as in the app (app/sqlite.py: explicit BEGIN, real savepoints), so the test's
        # commits are savepoint releases inside `outer` and roll back with it.
        connection = db.engine.connect()
        outer = connection.begin()
        scoped = db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": _ConnectionSession}
        )
        saved, db.session = db.session, scoped
        try:
            yield scoped
        finally:
            scoped.remove()
            db.session = saved
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app, session):
    """A test client whose requests share the test's rolled-back transaction."""
    return app.test_client()


@pytest.fixture
def committed(app):
    """Real commits (for multi-process and concurrency tests); every table is emptied afterwards."""
    with app.app_context():
        yield db
        db.session.remove()
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(table.delete())


@pytest.fixture
def shop(session):
    """An installed JPY shop."""
    from app.models import Shop

    row = Shop(domain="test-shop.myshopify.com", name="Test Shop", currency="JPY", timezone="Asia/Tokyo")
    session.add(row)
    session.flush()
    return row
