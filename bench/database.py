"""Throwaway PostgreSQL databases for benchmarks, with the schema built from the models and an app env."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Iterator

from scripts.pgtemp import DEFAULT_PG_URL, throwaway_database

BENCH_SECRET = "bench-api-secret"
BENCH_KEY = "bench-api-key"


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment a deployed process would get, pointed at `database_url`."""
    env = dict(
        os.environ,
        TSUNAGU_ENV="testing",
        DATABASE_URL=database_url,
        SHOPIFY_API_KEY=BENCH_KEY,
        SHOPIFY_API_SECRET=BENCH_SECRET,
        TOKEN_ENCRYPTION_KEYS=base64.b64encode(b"k" * 32).decode(),
        APP_URL="http://127.0.0.1",
        FLASK_APP="app:create_app",
        PYTHONUNBUFFERED="1",
    )
    env.pop("SHOPIFY_ADMIN_ORIGIN", None)
    env.update(extra)
    return env


def create_schema(database_url: str) -> None:
    """The schema from the models, as the tests build it (the initial migration is regenerated later)."""
    from app import create_app
    from app.config import load_settings
    from app.extensions import db

    app = create_app(load_settings(app_env(database_url)))
    with app.app_context():
        db.create_all()
        db.engine.dispose()


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """A fresh PostgreSQL database with the schema, dropped afterwards (on TEST_DATABASE_URL's server)."""
    os.environ.setdefault("TEST_DATABASE_URL", DEFAULT_PG_URL)
    if not os.environ["TEST_DATABASE_URL"].startswith("postgres"):
        os.environ["TEST_DATABASE_URL"] = DEFAULT_PG_URL
    with throwaway_database() as url:
        create_schema(url)
        yield url
