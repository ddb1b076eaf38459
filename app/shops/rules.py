"""A shop's points/ranks/channels rules, read from and saved to `Shop.settings["rules"]`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.domain.settings import ShopRules
from app.models.shop import Shop

SETTINGS_KEY = "rules"


def load_rules(shop: Shop) -> ShopRules:
    """The shop's rules (defaults for a fresh install; a broken stored value raises RulesError)."""
    return ShopRules.from_json((shop.settings or {}).get(SETTINGS_KEY))


def save_rules(session: Session, shop: Shop, rules: ShopRules) -> None:
    """Validate and store new rules. Existing ranks stay as they are until each member's next evaluation."""
    rules.validate()
    # Assign a new dict: the JSON column does not track in-place mutation.
    shop.settings = {**(shop.settings or {}), SETTINGS_KEY: rules.to_json()}
    session.flush()
