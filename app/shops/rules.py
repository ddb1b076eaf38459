"""A shop's points/ranks/channels rules, read from and saved to `Shop.settings["rules"]`."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.domain.settings import ShopRules
from app.models.member import Member
from app.models.shop import Shop

SETTINGS_KEY = "rules"
VERSION_KEY = "rules_version"


def load_rules(shop: Shop) -> ShopRules:
    """The shop's rules (defaults for a fresh install; a broken stored value raises RulesError)."""
    return ShopRules.from_json((shop.settings or {}).get(SETTINGS_KEY))


def save_rules(session: Session, shop: Shop, rules: ShopRules) -> None:
    """Validate and store new rules as a new version: every member is due for a replay (daily upkeep), and
    purchases whose points were worked out under an earlier version keep the rank multiplier they earned
    with (a rule change applies from then on, never to points already earned; app/points/engine.py)."""
    rules.validate()
    version = rules_version(shop) + 1
    # Assign a new dict: the JSON column does not track in-place mutation.
    shop.settings = {**(shop.settings or {}), SETTINGS_KEY: rules.to_json(), VERSION_KEY: version}
    session.execute(update(Member).where(Member.shop_id == shop.id).values(next_due_at=None))
    session.flush()


def rules_version(shop: Shop) -> int:
    """How many times the shop's rules were saved (0: the defaults of install)."""
    return int((shop.settings or {}).get(VERSION_KEY) or 0)
