"""Shopify's own library (shopifyapp) against the assembled emulator: launch, exchange, query, refresh."""

import base64
import dataclasses
import hashlib
import hmac
from urllib.parse import parse_qsl, urlparse

import httpx
import pytest
import shopify_app
from flask import Flask, request

from emulator.admin_standin import app_home_url
from emulator.server import create_emulator, emulator_of
from emulator.state import EmulatorState
from emulator.transport import emulator_transport
from emulator.webhook_sender import WebhookSender

# shopifyapp decodes id_tokens with the (deliberately short) test secret and PyJWT warns about its length.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

KEY, SECRET = "test-api-key", "test-api-secret"
SHOP = "test-shop.myshopify.com"
CONFIG = {"client_id": KEY, "client_secret": SECRET, "old_client_secret": None}


@pytest.fixture
def state() -> EmulatorState:
    emulator = EmulatorState(KEY, SECRET)
    emulator.install_shop(SHOP, name="Test Shop")
    return emulator


@pytest.fixture
def http(state) -> httpx.Client:
    return httpx.Client(transport=emulator_transport(create_emulator(state, app_url="https://tsunagu.test")))


def launch(state) -> shopify_app.ResultWithExchangeableIdToken:
    minter = emulator_of(create_emulator(state)).id_tokens
    url = app_home_url("https://tsunagu.test", SHOP, minter.mint(SHOP), "ja", "", state.clock(), SECRET)
    req = {"method": "GET", "headers": {}, "url": url, "body": ""}
    return shopify_app.verify_app_home_req(req, CONFIG, "/auth/patch-id-token")


def test_app_home_launch_url_verifies_with_shopifyapp(state):
    result = launch(state)

    assert result.ok, result.log
    assert result.shop == "test-shop"


def test_token_exchange_graphql_and_refresh_with_shopifyapp(state, http):
    exchanged = shopify_app.token_exchange(
        "offline", CONFIG, id_token=launch(state).id_token, http_client=http
    )
    assert exchanged.ok, exchanged.log
    token = exchanged.access_token
    assert token.refresh_token and token.expires

    answer = shopify_app.admin_graphql_request(
        "{ shop { name currencyCode } }", "test-shop", token.token, "2026-07", http_client=http
    )
    assert answer.ok, answer.log
    assert answer.data["shop"]["name"] == "Test Shop"

    # shopifyapp only refreshes a token that is (about to be) expired.
    stale = dataclasses.replace(token, expires="2000-01-01T00:00:00Z")
    refreshed = shopify_app.refresh_access_token(stale, CONFIG, http_client=http)
    assert refreshed.ok, refreshed.log
    assert refreshed.access_token.refresh_token != token.refresh_token

    replayed = shopify_app.refresh_access_token(stale, CONFIG, http_client=http)
    assert not replayed.ok
    assert replayed.log.code == "invalid_grant"


def test_expired_and_revoked_tokens_get_401_on_graphql(state, http):
    body = state.tokens.issue_offline(SHOP, set(state.config.scopes))

    def query(token: str) -> httpx.Response:
        return http.post(
            f"https://{SHOP}/admin/api/2026-07/graphql.json",
            json={"query": "{ shop { name } }"},
            headers={"X-Shopify-Access-Token": token},
        )

    assert query(body["access_token"]).status_code == 200
    state.tokens.expire_access_tokens(SHOP)
    assert query(body["access_token"]).status_code == 401
    fresh = state.tokens.refresh(SHOP, body["refresh_token"])
    assert query(fresh["access_token"]).status_code == 200
    state.tokens.revoke(SHOP)
    assert query(fresh["access_token"]).status_code == 401


def test_emulator_origin_with_host_header_reaches_the_shop(state, http):
    token = state.tokens.issue_offline(SHOP, set(state.config.scopes))["access_token"]

    response = http.post(
        "http://127.0.0.1:9292/admin/api/2026-07/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"Host": SHOP, "X-Shopify-Access-Token": token},
    )

    assert response.json()["data"]["shop"]["name"] == "Test Shop"


def test_webhooks_the_emulator_signs_verify_with_shopifyapp():
    seen = []
    receiver = Flask(__name__)

    @receiver.post("/webhooks")
    def webhooks():
        req = {
            "method": "POST",
            "headers": dict(request.headers),
            "url": request.url,
            "body": request.get_data(as_text=True),
        }
        seen.append(shopify_app.verify_webhook_req(req, CONFIG))
        return "", 200

    WebhookSender(SECRET, receiver).send(SHOP, "orders/create", {"id": 1, "note": "梅田店"})

    assert seen[0].ok, seen[0].log
    assert seen[0].shop == "test-shop"


def test_app_uninstall_event_is_queued_for_the_app_and_delivered_signed(state):
    received = []
    receiver = Flask(__name__)

    @receiver.post("/webhooks")
    def webhooks():
        received.append((dict(request.headers), request.get_data()))
        return "", 200

    app = create_emulator(state, webhook_target=receiver)
    token = state.tokens.issue_offline(SHOP, set(state.config.scopes))["access_token"]
    with httpx.Client(transport=emulator_transport(app)) as client:
        response = client.post(
            f"https://{SHOP}/admin/api/2026-07/graphql.json",
            json={"query": "mutation { appUninstall { userErrors { message } } }"},
            headers={"X-Shopify-Access-Token": token},
        )
    assert "errors" not in response.json(), response.json()
    sender = emulator_of(app).webhooks
    assert received == []  # queued, not sent from inside the GraphQL request

    sender.deliver_pending()

    headers, body = received[0]
    assert headers["X-Shopify-Topic"] == "app/uninstalled"
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert headers["X-Shopify-Hmac-Sha256"] == digest


def test_unsubscribed_topics_are_not_delivered(state):
    receiver = Flask(__name__)
    receiver.add_url_rule("/webhooks", view_func=lambda: ("", 200), methods=["POST"])
    app = create_emulator(state, webhook_target=receiver)

    state.emit(SHOP, "products/update", {"id": 1})
    state.emit(SHOP, "customers/update", {"id": 2})

    delivered = emulator_of(app).webhooks.deliver_pending()
    assert [d.topic for d in delivered] == ["customers/update"]


def test_authorize_redirects_to_the_app_origin(state, http):
    response = http.get(
        f"https://{SHOP}/admin/oauth/authorize",
        params={"client_id": KEY, "redirect_uri": "https://tsunagu.test/auth/callback", "state": "n"},
    )

    assert response.status_code == 302
    params = dict(parse_qsl(urlparse(response.headers["Location"]).query))
    assert params["shop"] == SHOP and params["code"]
