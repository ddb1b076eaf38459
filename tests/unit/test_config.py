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


def test_worker_and_schedule_tunables_default_and_can_be_set():
    defaults = load_settings(PRODUCTION)
    assert (defaults.inbox_lease_seconds, defaults.inbox_batch_size, defaults.inbox_idle_sleep) == (
        60.0,
        10,
        1.0,
    )
    assert (defaults.inbox_max_attempts, defaults.periodic_seconds) == (8, 60.0)
    assert defaults.reconcile_interval_seconds == 900.0
    assert defaults.polaris_url == "https://cdn.shopify.com/shopifycloud/polaris-1.js"  # major version pinned
    tuned = load_settings(
        dict(
            PRODUCTION,
            INBOX_LEASE_SECONDS="30",
            INBOX_BATCH_SIZE="50",
            INBOX_IDLE_SLEEP="0.25",
            INBOX_MAX_ATTEMPTS="3",
            INBOX_BACKOFF_BASE_SECONDS="2",
            INBOX_BACKOFF_CAP_SECONDS="60",
            PERIODIC_SECONDS="15",
            RECONCILE_INTERVAL_SECONDS="300",
            POLARIS_URL="https://cdn.example/polaris.js",
        )
    )
    assert (tuned.inbox_lease_seconds, tuned.inbox_batch_size, tuned.inbox_idle_sleep) == (30.0, 50, 0.25)
    assert (tuned.inbox_max_attempts, tuned.inbox_backoff_base_seconds, tuned.inbox_backoff_cap_seconds) == (
        3,
        2.0,
        60.0,
    )
    assert (tuned.periodic_seconds, tuned.reconcile_interval_seconds) == (15.0, 300.0)
    assert tuned.polaris_url == "https://cdn.example/polaris.js"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INBOX_BATCH_SIZE", "0"),
        ("INBOX_MAX_ATTEMPTS", "many"),
        ("INBOX_BATCH_SIZE", "2.5"),
        ("INBOX_LEASE_SECONDS", "-1"),
        ("PERIODIC_SECONDS", "x"),
    ],
)
def test_a_tunable_that_makes_no_sense_stops_the_start(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings(dict(PRODUCTION, **{name: value}))


def test_the_worker_takes_its_tunables_from_the_settings():
    from app.jobs.worker import WorkerConfig

    settings = load_settings(
        dict(PRODUCTION, INBOX_BATCH_SIZE="50", INBOX_MAX_ATTEMPTS="3", PERIODIC_SECONDS="15")
    )
    config = WorkerConfig.from_settings(settings, idle_sleep=0.5, lease_seconds=None)
    assert (config.batch_size, config.periodic_seconds, config.retry.max_attempts) == (50, 15.0, 3)
    assert config.idle_sleep == 0.5  # a command-line option wins
    assert config.lease_seconds == 60.0  # an option not given leaves the setting
