"""What the app declares to Shopify Flow: trigger and action handles and their fields.

The same declarations live in extensions/flow-*/shopify.extension.toml, which `shopify app deploy` ships;
tests/integration/flow/test_extensions.py keeps both equal. Field types are Flow's
(https://shopify.dev/docs/apps/build/flow/triggers/reference): the customer reference travels as
`customer_id` (the numeric customer id), every other field under its `key`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

RANK_CHANGED = "rank-changed"
POINTS_EARNED = "points-earned"
POINTS_EXPIRING = "points-expiring"
LINE_LINKED = "line-linked"
CAMPAIGN_REWARD_ISSUED = "campaign-reward-issued"

GRANT_POINTS = "grant-points"
SET_RANK_FLOOR = "set-rank-floor"
ISSUE_REWARD_CODE = "issue-reward-code"

CUSTOMER_KEY = "customer_id"

# handle -> {field key: Flow field type}; the customer reference is in every one of them.
TRIGGERS: dict[str, dict[str, str]] = {
    RANK_CHANGED: {"old rank": "single_line_text_field", "new rank": "single_line_text_field"},
    POINTS_EARNED: {"points": "number_integer", "order id": "single_line_text_field"},
    POINTS_EXPIRING: {"points": "number_integer", "expires on": "date"},
    LINE_LINKED: {},
    CAMPAIGN_REWARD_ISSUED: {
        "campaign": "single_line_text_field",
        "points": "number_integer",
        "code": "single_line_text_field",
    },
}
ACTIONS: dict[str, dict[str, str]] = {
    GRANT_POINTS: {"points": "number_integer", "reason": "single_line_text_field"},
    SET_RANK_FLOOR: {"rank-handle": "single_line_text_field", "until": "date"},
    ISSUE_REWARD_CODE: {"campaign-id": "number_integer"},
}


def customer_ref(shopify_customer_id: str) -> dict[str, Any]:
    """The customer reference of a payload: Flow resolves the customer from its numeric id."""
    return {CUSTOMER_KEY: int(shopify_customer_id)}


def rank_changed(customer: str, old: str, new: str) -> dict[str, Any]:
    return {**customer_ref(customer), "old rank": old, "new rank": new}


def points_earned(customer: str, points: int, order_id: str) -> dict[str, Any]:
    return {**customer_ref(customer), "points": points, "order id": order_id}


def points_expiring(customer: str, points: int, expires_on: date) -> dict[str, Any]:
    return {**customer_ref(customer), "points": points, "expires on": expires_on.isoformat()}


def line_linked(customer: str) -> dict[str, Any]:
    return customer_ref(customer)


def campaign_reward_issued(customer: str, campaign: str, points: int, code: str | None) -> dict[str, Any]:
    """A campaign rewarded the member: its points, or its discount code (empty for a points reward)."""
    return {**customer_ref(customer), "campaign": campaign, "points": points, "code": code or ""}
