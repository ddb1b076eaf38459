"""Settings from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_VERSION = "2026-07"
DEFAULT_APP_BRIDGE_URL = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
# Pinned to Polaris major version 1: `polaris-1.js` is Shopify's stable channel of 1.x (fixes within the
# major arrive without a change here; 2.x only when this line moves). A release like `polaris-1.1.js` would
# pin the minor too. https://shopify.dev/docs/api/app-home/latest/web-components/versioning
DEFAULT_POLARIS_URL = "https://cdn.shopify.com/shopifycloud/polaris-1.js"
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
REQUIRED_IN_PRODUCTION = (
    "SHOPIFY_API_KEY",
    "SHOPIFY_API_SECRET",
    "TOKEN_ENCRYPTION_KEYS",
    "IDENTITY_HASH_KEY",
    "APP_URL",
    "DATABASE_URL",
)


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the process must not start."""


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from the environment, validated once at start-up."""

    env: str
    api_key: str
    api_secret: str
    api_secret_previous: str | None
    api_version: str
    app_url: str
    database_url: str
    token_encryption_keys: tuple[str, ...]
    admin_origin: str | None
    app_bridge_url: str
    secret_key: str
    # Keys the phone/email/customer-id hashes used for matching and redaction tombstones. It must never
    # change (a new key makes every stored hash unmatchable), so it is separate from the rotating API secret.
    identity_hash_key: str
    # Operations (README "Operations: logs, metrics, health"); defaults so a bare environment still starts.
    log_format: str = "text"  # json: one JSON object per line (production default); text: plain lines
    log_level: str = "INFO"
    metrics_token: str | None = None  # /metrics wants `Authorization: Bearer <token>` when set
    sentry_dsn: str | None = None  # error reports to Sentry only when set
    heartbeat_stale_seconds: float = 120.0  # /readyz: a worker or syncer silent this long counts as gone
    # The inbox worker (app/jobs/worker.py): how long a claimed row stays ours, rows per claim, the idle
    # poll, how often the scheduled jobs are considered, and the retry schedule before a row is dead-lettered.
    inbox_lease_seconds: float = 60.0
    inbox_batch_size: int = 10
    inbox_idle_sleep: float = 1.0
    inbox_max_attempts: int = 8
    inbox_backoff_base_seconds: float = 5.0
    inbox_backoff_cap_seconds: float = 3600.0
    periodic_seconds: float = 60.0
    reconcile_interval_seconds: float = 900.0  # orders updated since the watermark, per installed shop
    polaris_url: str = DEFAULT_POLARIS_URL  # the Polaris web components the admin pages load
    location_refresh_seconds: float = (
        86400.0  # known store names are re-read from Shopify (renames) this often
    )
    # SQLite only (app/sqlite.py): how long a transaction waits for another one's write lock before failing.
    sqlite_busy_timeout_seconds: float = 30.0
    # Privacy retention (app/customers/retention.py): processed webhook rows, and the customer data exports
    # built for customers/data_request, are deleted this many days after they were processed / built.
    inbox_retention_days: int = 30
    data_export_retention_days: int = 30
    # The webhook edge (app/webhooks/edge.py): a delivery is answered 503 at once, instead of queueing past
    # Shopify's 5 s timeout, when it waited in front of the process longer than the queue budget (per the
    # proxy's X-Request-Start), when more rows are pending than the high-water mark, or when none of the
    # process's `max_inflight` inbox connections frees up within the wait. Installed shops are cached briefly.
    webhook_queue_budget_seconds: float = 1.0
    webhook_backlog_high_water: int = 200_000
    webhook_max_inflight: int = 4
    webhook_db_wait_seconds: float = 0.05
    webhook_shop_cache_seconds: float = 5.0
    # Shopify Flow (app/flow): the "points expiring" trigger fires this many days before the expiry date.
    flow_expiry_notice_days: int = 14
    # The Smaregi app's own credentials (developers.smaregi.dev: one client id/secret per app reaches every
    # merchant's contract) and the custom header value set on its webhooks; never shown in a page.
    smaregi_client_id: str | None = None
    smaregi_client_secret: str | None = None
    smaregi_webhook_secret: str | None = None
    smaregi_environment: str = "jp"  # jp (production) | dev (sandbox)

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def local_secret(name: str, nbytes: int = 32) -> str:
    """A random secret for dev/demo kept in instance/, so restarts keep working; never used in production."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / f".{name.lower()}"
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


def normalise_database_url(url: str) -> str:
    """Accept the postgres:// URLs hosting platforms hand out and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read and validate settings; in production a missing secret is fatal."""

    def get(name: str) -> str | None:
        value = environ.get(name, "").strip()
        return value or None

    def seconds(name: str, default: str) -> float:
        return _positive(name, get(name) or default)

    def count(name: str, default: str) -> int:
        return _count(name, get(name) or default)

    env = get("TSUNAGU_ENV") or "development"
    production = env == "production"
    if production:
        _refuse_unsafe_production(get)
    api_secret = get("SHOPIFY_API_SECRET") or local_secret("SHOPIFY_API_SECRET")
    keys = get("TOKEN_ENCRYPTION_KEYS") or local_secret("TOKEN_ENCRYPTION_KEY")
    # Flask's session key: explicit, else derived from the API secret so production needs no extra variable.
    secret_key = (
        get("SECRET_KEY")
        or hmac.new(api_secret.encode(), b"tsunagu-flask-session", hashlib.sha256).hexdigest()
    )
    return Settings(
        env=env,
        api_key=get("SHOPIFY_API_KEY") or "tsunagu-dev-api-key",
        api_secret=api_secret,
        api_secret_previous=get("SHOPIFY_API_SECRET_PREVIOUS"),
        api_version=get("SHOPIFY_API_VERSION") or DEFAULT_API_VERSION,
        app_url=(get("APP_URL") or "http://127.0.0.1:8000").rstrip("/"),
        database_url=normalise_database_url(
            get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'tsunagu.sqlite3'}"
        ),
        token_encryption_keys=tuple(k.strip() for k in keys.split(",") if k.strip()),
        admin_origin=(get("SHOPIFY_ADMIN_ORIGIN") or "").rstrip("/") or None,
        app_bridge_url=get("SHOPIFY_APP_BRIDGE_URL") or DEFAULT_APP_BRIDGE_URL,
        secret_key=secret_key,
        identity_hash_key=get("IDENTITY_HASH_KEY") or local_secret("IDENTITY_HASH_KEY"),
        # JSON for machines in production; plain lines on a developer's terminal unless asked otherwise.
        log_format=_choice(
            "LOG_FORMAT", get("LOG_FORMAT") or ("json" if production else "text"), ("json", "text")
        ),
        log_level=_choice("LOG_LEVEL", (get("LOG_LEVEL") or "INFO").upper(), LOG_LEVELS),
        metrics_token=get("METRICS_TOKEN"),
        sentry_dsn=get("SENTRY_DSN"),
        heartbeat_stale_seconds=_positive("HEARTBEAT_STALE_SECONDS", get("HEARTBEAT_STALE_SECONDS") or "120"),
        inbox_lease_seconds=seconds("INBOX_LEASE_SECONDS", "60"),
        inbox_batch_size=count("INBOX_BATCH_SIZE", "10"),
        inbox_idle_sleep=seconds("INBOX_IDLE_SLEEP", "1"),
        inbox_max_attempts=count("INBOX_MAX_ATTEMPTS", "8"),
        inbox_backoff_base_seconds=seconds("INBOX_BACKOFF_BASE_SECONDS", "5"),
        inbox_backoff_cap_seconds=seconds("INBOX_BACKOFF_CAP_SECONDS", "3600"),
        periodic_seconds=seconds("PERIODIC_SECONDS", "60"),
        reconcile_interval_seconds=seconds("RECONCILE_INTERVAL_SECONDS", "900"),
        polaris_url=get("POLARIS_URL") or DEFAULT_POLARIS_URL,
        sqlite_busy_timeout_seconds=_positive(
            "SQLITE_BUSY_TIMEOUT_SECONDS", get("SQLITE_BUSY_TIMEOUT_SECONDS") or "30"
        ),
        inbox_retention_days=count("INBOX_RETENTION_DAYS", "30"),
        data_export_retention_days=count("DATA_EXPORT_RETENTION_DAYS", "30"),
        webhook_queue_budget_seconds=seconds("WEBHOOK_QUEUE_BUDGET_SECONDS", "1"),
        webhook_backlog_high_water=count("WEBHOOK_BACKLOG_HIGH_WATER", "200000"),
        webhook_max_inflight=count("WEBHOOK_MAX_INFLIGHT", "4"),
        webhook_db_wait_seconds=seconds("WEBHOOK_DB_WAIT_SECONDS", "0.05"),
        webhook_shop_cache_seconds=seconds("WEBHOOK_SHOP_CACHE_SECONDS", "5"),
        flow_expiry_notice_days=count("FLOW_EXPIRY_NOTICE_DAYS", "14"),
        smaregi_client_id=get("SMAREGI_CLIENT_ID"),
        smaregi_client_secret=get("SMAREGI_CLIENT_SECRET"),
        smaregi_webhook_secret=get("SMAREGI_WEBHOOK_SECRET"),
        smaregi_environment=_choice("SMAREGI_ENVIRONMENT", get("SMAREGI_ENVIRONMENT") or "jp", ("jp", "dev")),
    )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _refuse_unsafe_production(get: Callable[[str], str | None]) -> None:
    """Production starts only with its secrets, and never with Shopify replaced by a stand-in."""
    missing = [name for name in REQUIRED_IN_PRODUCTION if not get(name)]
    if missing:
        raise ConfigError(f"production needs these environment variables: {', '.join(missing)}")
    if get("SHOPIFY_ADMIN_ORIGIN"):
        raise ConfigError(
            "SHOPIFY_ADMIN_ORIGIN sends Shopify calls to a stand-in; it must not be set in production"
        )


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}")
    return value


def _count(name: str, value: str) -> int:
    number = _positive(name, value, "a whole number of at least 1")
    if not number.is_integer():
        raise ConfigError(f"{name} must be a whole number of at least 1")
    return int(number)


def _positive(name: str, value: str, what: str = "a positive number of seconds") -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise ConfigError(f"{name} must be {what}")
    return number
