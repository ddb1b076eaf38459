"""Tsunagu: one member across store and online, inside Shopify."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from app.config import Settings, load_settings
from app.extensions import db, migrate


def create_app(settings: Settings | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app: config, extensions, blueprints, error handlers — nothing else."""
    settings = settings or load_settings()
    app = Flask(
        __name__, template_folder="../templates", static_folder="../static", instance_relative_config=False
    )
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        IDENTITY_HASH_KEY=settings.identity_hash_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,  # webhook bodies over 2 MB get 413 (issue 10)
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides or {})
    # Ids in URLs are bounded by the id columns: a larger number is simply not found (404), instead of a
    # database error ("integer out of range") on a URL anyone can type.
    app.url_map.converters["int"] = DatabaseIdConverter
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))

    from app import models  # noqa: F401  (registers every model on the metadata)
    from app.cli import register_cli
    from app.errors import register_error_handlers
    from app.health import bp as health_bp

    app.register_blueprint(health_bp)
    from app.webhooks.views import bp as webhooks_bp  # issue 10: POST /webhooks

    app.register_blueprint(webhooks_bp)
    # issue 8 (store side): Smaregi webhooks, LINE webhooks, the app-proxy member card, store commands
    from app.integrations.commands import bp as store_commands_bp
    from app.integrations.line.views import bp as line_bp
    from app.integrations.smaregi.views import bp as smaregi_bp
    from app.proxy import bp as proxy_bp

    for store_bp in (smaregi_bp, line_bp, proxy_bp, store_commands_bp):
        app.register_blueprint(store_bp)
    from app.admin import bp as admin_bp  # issue 4: GET / (embedded app home; dashboard pages join it)
    from app.install import bp as install_bp  # issue 4: /auth, /auth/callback, /auth/patch-id-token
    from app.security import init_security
    from app.shopify.cli import register_token_cli

    app.register_blueprint(install_bp)
    app.register_blueprint(admin_bp)
    init_security(app)
    register_token_cli(app)
    register_error_handlers(app)
    register_cli(app)
    from app.sync_cli import register_sync_cli  # issue 6: flask sync / backfill / segments / freshness

    register_sync_cli(app)
    return app


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` within an INTEGER id column's range; routes over BIGINT ids say `int(max=...)`."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Worker and web share the demo's SQLite file: wait for the writer instead of failing at once.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5, "connect_args": {"connect_timeout": 5}}


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"
