"""Settings from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_VERSION = "2026-07"
DEFAULT_APP_BRIDGE_URL = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
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

    env = get("TSUNAGU_ENV") or "development"
    production = env == "production"
    if production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not get(name)]
        if missing:
            raise ConfigError(f"production needs these environment variables: {', '.join(missing)}")
        if get("SHOPIFY_ADMIN_ORIGIN"):
            raise ConfigError(
                "SHOPIFY_ADMIN_ORIGIN sends Shopify calls to a stand-in; it must not be set in production"
            )
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
    )
