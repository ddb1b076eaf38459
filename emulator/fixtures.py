"""Pytest plugin: the Shopify emulator as fixtures (register with pytest_plugins in tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import httpx
import pytest
from flask import Flask

from emulator.id_tokens import IdTokenMinter
from emulator.server import create_emulator, subscribed_events
from emulator.state import EmulatorState
from emulator.transport import emulator_transport as make_transport
from emulator.webhook_sender import WebhookSender

TEST_SHOP = "test-shop.myshopify.com"


@pytest.fixture
def emulator_state() -> EmulatorState:
    """A fresh emulated Shopify with the app installed on test-shop.myshopify.com."""
    state = EmulatorState(
        os.environ.get("SHOPIFY_API_KEY") or "test-api-key",
        os.environ.get("SHOPIFY_API_SECRET") or "test-api-secret",
    )
    state.install_shop(TEST_SHOP, name="Test Shop")
    return state


@pytest.fixture
def emulator_app(emulator_state: EmulatorState) -> Flask:
    """The emulator WSGI app (GraphQL, OAuth, inspection, admin stand-in, faults) over emulator_state."""
    return create_emulator(emulator_state, app_url=os.environ.get("APP_URL") or "https://tsunagu.test")


@pytest.fixture
def emulator_transport(emulator_app: Flask) -> httpx.BaseTransport:
    """An httpx transport reaching the emulator in-process; the request's Host names the shop."""
    return make_transport(emulator_app)


@pytest.fixture
def mint_id_token(emulator_state: EmulatorState) -> Callable[..., str]:
    """mint_id_token(shop=TEST_SHOP, **claim_overrides) -> a signed App Bridge id_token."""
    minter = IdTokenMinter(emulator_state.api_key, emulator_state.api_secret, clock=emulator_state.clock)

    def mint(shop: str = TEST_SHOP, **overrides) -> str:
        return minter.mint(shop, **overrides)

    return mint


@pytest.fixture
def webhook_sender(request: pytest.FixtureRequest, emulator_state: EmulatorState) -> Iterator[WebhookSender]:
    """Signs and delivers webhooks into the app under test (the `app` fixture), with time compressed.

    Events the emulator raises (e.g. app/uninstalled after appUninstall) are queued on it too: call
    `webhook_sender.deliver_pending()` to hand them to the app.
    """
    target = request.getfixturevalue("app")
    sender = WebhookSender(
        emulator_state.api_secret,
        target,
        url="http://localhost/webhooks",
        time_scale=0.0,
        clock=emulator_state.clock,
    )
    emulator_state.on_event = subscribed_events(emulator_state, sender.enqueue)
    yield sender
    emulator_state.on_event = None
