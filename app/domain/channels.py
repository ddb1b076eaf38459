"""Which channel a purchase came through: online, Shopify POS, an external POS, an app, or other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.domain.events import PurchaseEvent
from app.domain.settings import ChannelRules

Channel = Literal["online", "pos", "external_pos", "app", "other"]
CHANNELS: tuple[Channel, ...] = ("online", "pos", "external_pos", "app", "other")
STORE_CHANNELS: frozenset[str] = frozenset({"pos", "external_pos"})
ONLINE_CHANNELS: frozenset[str] = frozenset({"online", "app"})


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """The channel and, for store sales, the store: `location_key` is stable, the name is for people."""

    channel: Channel
    location_key: str | None = None  # "shopify:<location id>" or "smaregi:<store id>"
    location_name: str | None = None

    @property
    def is_store(self) -> bool:
        """A sale in a physical store (Shopify POS or the external POS)."""
        return self.channel in STORE_CHANNELS


def classify(event: PurchaseEvent, rules: ChannelRules) -> ChannelInfo:
    """Decide the channel from the event's hints and the shop's channel rules."""
    if event.source == "smaregi":
        key = f"smaregi:{event.location_id}" if event.location_id else None
        return ChannelInfo("external_pos", key, event.location_name)
    source_name = (event.source_name or "").strip().lower()
    # A merchant's explicit app mapping wins: some apps create orders that look like web orders.
    if event.app_id and event.app_id in rules.app_channels:
        channel = rules.app_channels[event.app_id]
        return _with_location(channel, event)  # type: ignore[arg-type]  # validated: settings.py checks it
    # Shopify POS: source_name "pos" is widely observed but not documented; a location_id is the other tell.
    if source_name in rules.pos_source_names or (event.location_id and not source_name):
        return _with_location("pos", event)
    if source_name in rules.online_source_names:
        return ChannelInfo("online")
    if event.location_id:
        return _with_location("pos", event)
    if source_name and source_name in rules.app_channels:
        return ChannelInfo(rules.app_channels[source_name])  # type: ignore[arg-type]  # validated in settings
    # Other sales channels (an app's numeric source_name) are online unless the merchant says otherwise.
    if source_name.isdigit() or event.app_id:
        return ChannelInfo("app")
    return ChannelInfo("other")


def _with_location(channel: Channel, event: PurchaseEvent) -> ChannelInfo:
    if channel not in STORE_CHANNELS:
        return ChannelInfo(channel)
    key = f"{event.source}:{event.location_id}" if event.location_id else None
    return ChannelInfo(channel, key, event.location_name)
