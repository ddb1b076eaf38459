"""The migrations build exactly the schema the models describe, and go down and up again cleanly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from app.config import load_settings
from app.extensions import db
from scripts.pgtemp import throwaway_database
from tests.conftest import TEST_ENV


@pytest.fixture
def migrated_app():
    with throwaway_database() as url:
        application = create_app(load_settings(dict(TEST_ENV, DATABASE_URL=url)), overrides={"TESTING": True})
        with application.app_context():
            upgrade()
            yield application
            db.session.remove()
            db.engine.dispose()


def test_models_and_migrations_agree(migrated_app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run `make migration`:\n{diff}"


def test_downgrade_to_base_and_upgrade_again(migrated_app):
    tables = set(inspect(db.engine).get_table_names())
    assert {"shops", "inbox_events", "shop_tokens"} <= tables
    downgrade(revision="base")
    db.engine.dispose()
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    db.engine.dispose()
    assert set(inspect(db.engine).get_table_names()) == tables
