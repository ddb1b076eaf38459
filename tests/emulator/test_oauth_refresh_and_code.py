"""Refresh grant and authorization-code grant (with the query HMAC) at the OAuth endpoints."""

import hashlib
import hmac
import time
from urllib.parse import parse_qsl, urlparse

import pytest
from flask import Flask

from emulator.oauth import OAuthProvider, admin_host_param
from emulator.state import EmulatorState

SHOP = "code.myshopify.com"
KEY, SECRET = "test-api-key", "test-api-secret"
REDIRECT = "http://127.0.0.1:8000/auth/callback"


@pytest.fixture
def state() -> EmulatorState:
    emulator = EmulatorState(KEY, SECRET)
    emulator.install_shop(SHOP)
    return emulator


@pytest.fixture
def client(state):
    app = Flask(__name__)
    app.register_blueprint(OAuthProvider(state, redirect_origins=("http://127.0.0.1:8000",)).blueprint())
    return app.test_client()


def post_token(client, **body):
    return client.post(
        "/admin/oauth/access_token",
        json={"client_id": KEY, "client_secret": SECRET} | body,
        headers={"Host": SHOP},
    )


def authorize(client, **params):
    query = {
        "client_id": KEY,
        "scope": "read_customers",
        "redirect_uri": REDIRECT,
        "state": "nonce-1",
    } | params
    return client.get("/admin/oauth/authorize", query_string=query, headers={"Host": SHOP})


def test_refresh_over_http_rotates_and_rejects_the_old_token(client, state):
    first = state.tokens.issue_offline(SHOP, {"read_orders"})

    response = post_token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert response.status_code == 200
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]

    replay = post_token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"


def test_refresh_accepts_a_form_body(client, state):
    first = state.tokens.issue_offline(SHOP, {"read_orders"})

    response = client.post(
        "/admin/oauth/access_token",
        data={
            "client_id": KEY,
            "client_secret": SECRET,
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
        },
        headers={"Host": SHOP},
    )

    assert response.status_code == 200


def test_authorize_redirects_with_a_verifiable_hmac(client):
    response = authorize(client)

    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    params = dict(parse_qsl(location.query))
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == SHOP and params["state"] == "nonce-1"
    assert params["host"] == admin_host_param(SHOP)
    assert abs(int(params["timestamp"]) - time.time()) < 5
    # Independent check of FACTS.md's rule: sorted key=value pairs joined by '&', hmac removed.
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    expected = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(params["hmac"], expected)


def test_code_grant_round_trip_and_code_is_single_use(client, state):
    code = dict(parse_qsl(urlparse(authorize(client).headers["Location"]).query))["code"]

    response = post_token(client, code=code, expiring="1")
    assert response.status_code == 200
    body = response.get_json()
    assert state.tokens.check_access(SHOP, body["access_token"])
    assert "refresh_token" in body

    assert post_token(client, code=code).status_code == 400


def test_code_grant_without_expiring_gets_a_permanent_token(client):
    code = dict(parse_qsl(urlparse(authorize(client).headers["Location"]).query))["code"]

    body = post_token(client, code=code).get_json()

    assert set(body) == {"access_token", "scope"}


def test_authorize_refuses_unlisted_redirect_and_wrong_client(client):
    assert authorize(client, redirect_uri="https://evil.example/callback").status_code == 400
    assert authorize(client, client_id="someone-else").status_code == 400


def test_authorize_accepts_the_toml_redirect_url(client):
    response = authorize(client, redirect_uri="https://tsunagu.example.com/auth/callback")

    assert response.status_code == 302


def test_authorize_from_a_browser_names_the_shop_in_the_query(client):
    response = client.get(
        "/admin/oauth/authorize",
        query_string={"client_id": KEY, "redirect_uri": REDIRECT, "state": "s", "shop": SHOP},
        headers={"Host": "127.0.0.1:9292"},
    )

    assert response.status_code == 302


def test_unknown_grant_type_is_refused(client):
    response = post_token(client, grant_type="password")

    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"
