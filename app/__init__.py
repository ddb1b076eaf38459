"""Tsunagu: one member across store and online, inside Shopify."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from app import dispatch, sqlite
from app.admin import bp as admin_bp
from app.config import Settings, load_settings
from app.customers import cli as customers_cli
from app.errors import register_error_handlers
from app.extensions import db, migrate
from app.flow.views import bp as flow_bp
from app.health import bp as health_bp
from app.install import bp as install_bp
from app.integrations import commands as integrations_cli
from app.integrations.line.views import bp as line_bp
from app.integrations.smaregi.views import bp as smaregi_bp
from app.jobs import cli as jobs_cli
from app.pos import bp as pos_bp
from app.proxy import bp as proxy_bp
from app.security import init_security
from app.shopify import cli as token_cli
from app.sync import cli as sync_cli
from app.webhooks.views import install as install_webhooks


def create_app(settings: Settings | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app: config, extensions, blueprints, error handlers — nothing else."""
    settings = settings or load_settings()
    app = Flask(
        __name__, template_folder="../templates", static_folder="../static", instance_relative_config=False
    )
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(
            settings.database_url, settings.sqlite_busy_timeout_seconds
        ),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,  # request bodies over 2 MB (webhooks included) get 413
        JSON_SORT_KEYS=False,
        # The session cookie (only the code grant's state uses it) is set inside the admin's iframe, a
        # third-party context: browsers send it there only with SameSite=None, which they accept only with
        # Secure (https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens).
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="None",
    )
    app.config.update(overrides or {})
    # Ids in URLs are bounded by the id columns: a larger number is simply not found (404), instead of a
    # database error ("integer out of range") on a URL anyone can type.
    app.url_map.converters["int"] = DatabaseIdConverter
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    db.init_app(app)
    with app.app_context():
        sqlite.configure(db.engine)  # WAL, busy timeout, BEGIN IMMEDIATE, foreign keys (a no-op elsewhere)
    migrate.init_app(app, db, directory=str(_migrations_dir()))

    from app import models  # noqa: F401  (registers every model on the metadata)

    _register_blueprints(app)
    _register_commands(app)
    init_security(app)
    register_error_handlers(app)
    from app.observability import init_app as init_observability  # logs, request ids, /metrics, Sentry

    init_observability(app)
    install_webhooks(app)  # POST /webhooks in plain WSGI, in front of Flask (app/webhooks/views.py)
    return app


def _register_blueprints(app: Flask) -> None:
    """Every Flask route: the store side, the app proxy, install/auth, the embedded admin, health."""
    for blueprint in (
        health_bp,
        smaregi_bp,  # POST /integrations/smaregi/webhooks
        line_bp,  # LINE webhooks
        proxy_bp,  # the app-proxy member card
        flow_bp,  # POST /flow/actions/<handle>: Shopify Flow actions
        pos_bp,  # /pos/api: the POS UI extension's calls (app/pos)
        install_bp,  # /auth, /auth/callback, /auth/patch-id-token
        admin_bp,  # GET / (embedded app home) and the dashboard pages
    ):
        app.register_blueprint(blueprint)


def _register_commands(app: Flask) -> None:
    """Every `flask` command, each package attaching its own."""
    jobs_cli.init_app(app, handle=dispatch.dispatch, periodic=dispatch.periodic)
    sync_cli.init_app(app)
    customers_cli.init_app(app)
    token_cli.init_app(app)
    integrations_cli.init_app(app)


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` within an INTEGER id column's range; routes over BIGINT ids say `int(max=...)`."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _engine_options(url: str, sqlite_busy_timeout: float = sqlite.BUSY_TIMEOUT_SECONDS) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Worker, syncer and web share the demo's SQLite file: app/sqlite.py says how they take turns.
        return sqlite.engine_options(sqlite_busy_timeout)
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5, "connect_args": {"connect_timeout": 5}}


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"
