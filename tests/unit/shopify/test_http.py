"""The Shopify HTTP client: timeouts, User-Agent, the stand-in origin with the shop kept in Host."""

import dataclasses

import httpx

from app.config import load_settings
from app.shopify.http import shopify_http_client
from tests.conftest import TEST_ENV


def _settings(**overrides):
    return dataclasses.replace(load_settings(dict(TEST_ENV, DATABASE_URL="sqlite://")), **overrides)


def _recorder():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    return seen, httpx.MockTransport(handler)


def test_timeouts_and_user_agent():
    seen, transport = _recorder()
    with shopify_http_client(_settings(), transport) as client:
        assert client.timeout.connect == 1.0
        assert client.timeout.read == 10.0
        client.get("https://shop-a.myshopify.com/admin/api/2026-07/graphql.json")
    assert "Tsunagu" in seen[0].headers["User-Agent"]


def test_without_admin_origin_requests_go_to_the_shop():
    seen, transport = _recorder()
    with shopify_http_client(_settings(admin_origin=None), transport) as client:
        client.post("https://shop-a.myshopify.com/admin/oauth/access_token", json={})
    assert str(seen[0].url) == "https://shop-a.myshopify.com/admin/oauth/access_token"


def test_admin_origin_rewrites_shop_requests_and_keeps_the_host():
    seen, transport = _recorder()
    with shopify_http_client(_settings(admin_origin="http://127.0.0.1:9292"), transport) as client:
        client.post("https://shop-a.myshopify.com/admin/api/2026-07/graphql.json?x=1", json={})
        client.get("https://storage.example.com/result.jsonl")
    shop_call, other = seen
    assert shop_call.url.scheme == "http"
    assert (shop_call.url.host, shop_call.url.port) == ("127.0.0.1", 9292)
    assert shop_call.url.raw_path == b"/admin/api/2026-07/graphql.json?x=1"
    assert shop_call.headers["Host"] == "shop-a.myshopify.com"
    assert other.url.host == "storage.example.com"  # only https://{shop} is replaced


def test_app_config_transport_takes_precedence(app):
    seen, transport = _recorder()
    app.config["SHOPIFY_TRANSPORT"] = transport
    try:
        with app.app_context(), shopify_http_client(_settings()) as client:
            client.get("https://shop-a.myshopify.com/x")
    finally:
        del app.config["SHOPIFY_TRANSPORT"]
    assert len(seen) == 1


def test_closing_a_client_leaves_a_shared_transport_usable():
    seen, transport = _recorder()
    with shopify_http_client(_settings(), transport) as client:
        client.get("https://shop-a.myshopify.com/x")
    with shopify_http_client(_settings(), transport) as client:
        client.get("https://shop-a.myshopify.com/y")
    assert len(seen) == 2
