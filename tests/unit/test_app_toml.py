"""shopify.app.toml follows the current Shopify CLI schema; its topics exist in 2026-07 and are handled.

Sections and keys: https://shopify.dev/docs/apps/build/cli-for-apps/app-configuration (and Shopify CLI's own
schemas: packages/app/src/cli/models/app/app.ts, .../specifications/app_config_*.ts). Current CLI removes
`build.include_config_on_deploy` ("no longer supported, since all apps must now include configuration on
deploy"), so it must not be here. Customer metafield definitions are declarative custom data
(https://shopify.dev/docs/apps/build/custom-data/declarative-custom-data-definitions).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from app.dispatch import COMPLIANCE_HANDLERS, HANDLERS
from emulator.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "shopify.app.toml").read_text())

TOP_LEVEL = {
    "client_id", "name", "handle", "application_url", "embedded", "extension_directories", "web_directories",
    "build", "access_scopes", "access", "auth", "webhooks", "app_proxy", "pos", "app_preferences",
    "customer", "product", "order", "shop", "metaobjects",
}  # fmt: skip
SECTION_KEYS = {
    "build": {"automatically_update_urls_on_dev", "dev_store_url"},
    "access_scopes": {"scopes", "required_scopes", "optional_scopes", "use_legacy_install_flow"},
    "auth": {"redirect_urls"},
    "webhooks": {"api_version", "subscriptions", "privacy_compliance"},
    "app_proxy": {"url", "subpath", "prefix"},
    "pos": {"embedded"},
}
SUBSCRIPTION_KEYS = {"topics", "uri", "include_fields", "filter", "compliance_topics", "name", "actions"}


def _subscriptions() -> list[dict]:
    return CONFIG["webhooks"]["subscriptions"]


def _scopes() -> tuple[set[str], set[str]]:
    access = CONFIG["access_scopes"]
    required = {s.strip() for s in access["scopes"].split(",") if s.strip()}
    return required, set(access.get("optional_scopes", []))


def test_only_documented_sections_and_keys():
    assert set(CONFIG) <= TOP_LEVEL
    for section, allowed in SECTION_KEYS.items():
        assert set(CONFIG.get(section, {})) <= allowed, section
    for sub in _subscriptions():
        assert set(sub) <= SUBSCRIPTION_KEYS
    assert "include_config_on_deploy" not in CONFIG.get("build", {})


def test_every_topic_is_a_2026_07_webhook_topic_with_a_handler():
    enum = set(load_schema().get_type("WebhookSubscriptionTopic").values)
    topics = [t for sub in _subscriptions() for t in sub.get("topics", [])]
    assert len(topics) == len(set(topics)), "a topic subscribed twice is delivered twice"
    assert [t for t in topics if t.upper().replace("/", "_") not in enum] == []
    assert [t for t in topics if t not in HANDLERS] == []
    compliance = {t for sub in _subscriptions() for t in sub.get("compliance_topics", [])}
    assert compliance == set(COMPLIANCE_HANDLERS)


def test_orders_updated_carries_the_newest_state_so_paid_cancelled_and_edited_are_not_subscribed():
    topics = {t for sub in _subscriptions() for t in sub.get("topics", [])}
    assert {"orders/create", "orders/updated"} <= topics
    assert not topics & {"orders/paid", "orders/cancelled", "orders/edited"}


def test_no_read_scope_beside_its_write_scope_and_none_both_required_and_optional():
    required, optional = _scopes()
    every = required | optional
    assert not required & optional
    assert [s for s in every if s.startswith("read_") and "write_" + s[5:] in every] == []


def test_the_optional_scopes_are_the_features_a_merchant_may_not_use():
    _, optional = _scopes()
    assert optional == {"read_all_orders", "write_discounts", "write_customer_merge"}


def test_no_comment_promises_other_apps_read_the_app_owned_metafields():
    text = (ROOT / "shopify.app.toml").read_text().lower()
    assert "other apps read them" not in text and "klaviyo and other apps read" not in text
    assert "no other apps have access" in text
