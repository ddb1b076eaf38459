"""The emulated Shopify as a whole: the app's credentials, its token store and the installed shops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from emulator.cost import PLAN_RESTORE_RATES, LeakyBucket
from emulator.shop_state import (
    DEFAULT_APP_TOML,
    AppConfig,
    ShopState,
    gid,
    gid_parts,
    iso,
    json_copy,
    refund_amount,
)

EventHook = Callable[[str, str, dict], None]
# Shopify gives every app a numeric id besides its 32-hex client id; `$app` resolves to `app--<numeric id>`
# (https://shopify.dev/docs/apps/build/custom-data/ownership; public loyalty-app segments read like
# `metafields.app--1576377--loyalty.status`). Any number that is not the client id serves.
DEFAULT_APP_ID = 4_810_219

__all__ = [
    "AppConfig",
    "EmulatorState",
    "EventHook",
    "ShopState",
    "gid",
    "gid_parts",
    "iso",
    "json_copy",
    "refund_amount",
]


class EmulatorState:
    """Everything the emulator knows: the app's credentials, its token store and installed shops."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        app_toml_path: str | Path = DEFAULT_APP_TOML,
        clock: Callable[[], float] = time.time,
        app_id: int = DEFAULT_APP_ID,
    ) -> None:
        self.api_key = api_key
        # The app's numeric id (`App.id`): what `$app` resolves to, unrelated to the client id.
        self.app_id = int(app_id)
        self.api_secret = api_secret
        self.clock = clock
        self.config = AppConfig.load(app_toml_path)
        self.shops: dict[str, ShopState] = {}
        self.on_event: EventHook | None = None
        # One lock serialises GraphQL execution and seeding: mutations are atomic on Shopify.
        self.lock = threading.RLock()
        try:
            from emulator.tokens import TokenStore
        except ImportError as exc:  # pragma: no cover - only while the platform half is missing
            raise ImportError("emulator.tokens.TokenStore (platform half) is required") from exc
        self.tokens = TokenStore(api_key, api_secret, clock=clock)

    def install_shop(
        self,
        domain: str,
        plan: str = "standard",
        currency: str = "JPY",
        name: str | None = None,
        timezone: str = "Asia/Tokyo",
    ) -> ShopState:
        """Install the app on a shop (idempotent: an existing shop is returned and marked installed)."""
        with self.lock:
            if domain in self.shops:
                shop = self.shops[domain]
                shop.installed = True
                return shop
            if plan not in PLAN_RESTORE_RATES:
                raise ValueError(f"unknown plan {plan!r}; one of {sorted(PLAN_RESTORE_RATES)}")
            shop = ShopState(
                domain=domain,
                name=name or domain.split(".", 1)[0].replace("-", " ").title(),
                plan=plan,
                currency=currency,
                timezone=timezone,
                api_key=self.api_key,
                app_id=self.app_id,
                config=self.config,
                clock=self.clock,
                bucket=LeakyBucket(restore_rate=PLAN_RESTORE_RATES[plan], clock=self.clock),
                shop_id=len(self.shops) + 1,
            )
            self.shops[domain] = shop
            return shop

    def shop(self, domain: str) -> ShopState:
        """The installed shop; KeyError if unknown."""
        return self.shops[domain]

    def emit(self, shop: str, topic: str, payload: dict) -> None:
        """Announce a state change the way Shopify would by webhook (delivery is the platform half's job)."""
        if self.on_event is not None:
            self.on_event(shop, topic, payload)
