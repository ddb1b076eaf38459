"""Settings: production refuses to start without its secrets; dev works out of the box."""

import pytest

from app.config import ConfigError, load_settings, normalise_database_url

PRODUCTION = {
    "TSUNAGU_ENV": "production",
    "SHOPIFY_API_KEY": "key",
    "SHOPIFY_API_SECRET": "secret",
    "TOKEN_ENCRYPTION_KEYS": "k1,k2",
    "IDENTITY_HASH_KEY": "stable-identity-key",
    "APP_URL": "https://app.example.com/",
    "DATABASE_URL": "postgres://u@db/tsunagu",
}


@pytest.mark.parametrize(
    "missing",
    ["SHOPIFY_API_SECRET", "TOKEN_ENCRYPTION_KEYS", "IDENTITY_HASH_KEY", "SHOPIFY_API_KEY", "DATABASE_URL"],
)
def test_production_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env)


def test_production_never_talks_to_a_stand_in():
    with pytest.raises(ConfigError, match="SHOPIFY_ADMIN_ORIGIN"):
        load_settings(dict(PRODUCTION, SHOPIFY_ADMIN_ORIGIN="http://127.0.0.1:9292"))


def test_production_settings_are_read_as_given():
    settings = load_settings(PRODUCTION)
    assert settings.is_production
    assert settings.token_encryption_keys == ("k1", "k2")
    assert settings.app_url == "https://app.example.com"
    assert settings.database_url == "postgresql+psycopg://u@db/tsunagu"
    assert settings.api_version == "2026-07"
    assert settings.app_bridge_url == "https://cdn.shopify.com/shopifycloud/app-bridge.js"
    assert settings.secret_key and settings.secret_key != "secret"


def test_development_generates_local_secrets():
    settings = load_settings({})
    assert settings.api_secret and settings.token_encryption_keys
    assert settings.database_url.startswith("sqlite:///")
    assert load_settings({}).api_secret == settings.api_secret  # kept across restarts


def test_database_urls_get_the_psycopg_driver():
    assert normalise_database_url("postgresql://x@h/db") == "postgresql+psycopg://x@h/db"
    assert normalise_database_url("sqlite:///a.db") == "sqlite:///a.db"
