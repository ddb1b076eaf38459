"""Fixtures for the store side: Smaregi and LINE stand-ins wired into the app, a connected shop."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from app.integrations.line.links import connect_line
from app.integrations.smaregi.connection import connect
from emulator.line import LineStandIn
from emulator.smaregi import SmaregiStandIn
from tests.conftest import TEST_ENV

CONTRACT = "sb_tsunagu01"
WEBHOOK_SECRET = "smaregi-shared-secret-0123456789"
LINE_SECRET = "line-channel-secret"
LINE_TOKEN = "line-channel-token"


@pytest.fixture
def smaregi(app) -> Iterator[SmaregiStandIn]:
    """The Smaregi stand-in, reachable by the app as https://id.smaregi.dev and https://api.smaregi.dev."""
    stand_in = SmaregiStandIn()
    stand_in.add_contract(CONTRACT)
    stand_in.add_store(CONTRACT, "1", "渋谷店")
    app.config["SMAREGI_TRANSPORT"] = stand_in.transport()
    yield stand_in
    app.config.pop("SMAREGI_TRANSPORT", None)


@pytest.fixture
def line_api(app) -> Iterator[LineStandIn]:
    """The LINE Messaging API stand-in at https://api.line.me."""
    stand_in = LineStandIn(LINE_TOKEN)
    app.config["LINE_TRANSPORT"] = stand_in.transport()
    yield stand_in
    app.config.pop("LINE_TRANSPORT", None)


@pytest.fixture
def connected(session, shop, smaregi):
    """The test shop connected to the stand-in's contract (sandbox environment)."""
    return connect(
        session,
        shop,
        contract_id=CONTRACT,
        client_id="client-id",
        client_secret="client-secret",
        webhook_secret=WEBHOOK_SECRET,
        environment="dev",
        rank_codes={"regular": "1", "silver": "2", "gold": "3", "platinum": "4"},
    )


@pytest.fixture
def line_connected(session, shop, line_api):
    """The test shop's LINE channel (thank-yous at the default 20:00)."""
    return connect_line(
        session, shop, channel_secret=LINE_SECRET, access_token=LINE_TOKEN, bot_basic_id="@tsunagu"
    )


def proxy_query(
    shop_domain: str,
    customer_id: str | None,
    *,
    secret: str = TEST_ENV["SHOPIFY_API_SECRET"],
    timestamp: int | None = None,
    extra: dict[str, str] | None = None,
) -> str:
    """The query string Shopify's app proxy appends, signed like Shopify signs it (FACTS.md)."""
    params = {
        "shop": shop_domain,
        "logged_in_customer_id": customer_id or "",
        "path_prefix": "/apps/tsunagu",
        "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        **(extra or {}),
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode(params)
