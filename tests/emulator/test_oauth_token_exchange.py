"""Token exchange at /admin/oauth/access_token: valid id_tokens get offline tokens, bad ones get 400."""

import time

import pytest
from flask import Flask

from emulator.id_tokens import IdTokenMinter
from emulator.oauth import ID_TOKEN_TYPE, OFFLINE_TOKEN_TYPE, TOKEN_EXCHANGE, OAuthProvider
from emulator.state import EmulatorState

SHOP = "exchange.myshopify.com"
KEY, SECRET = "test-api-key", "test-api-secret"


@pytest.fixture
def state() -> EmulatorState:
    emulator = EmulatorState(KEY, SECRET)
    emulator.install_shop(SHOP)
    emulator.install_shop("other.myshopify.com")
    return emulator


@pytest.fixture
def client(state):
    app = Flask(__name__)
    app.register_blueprint(OAuthProvider(state).blueprint())
    return app.test_client()


@pytest.fixture
def minter() -> IdTokenMinter:
    return IdTokenMinter(KEY, SECRET)


def exchange(client, id_token, *, host=SHOP, as_form=False, **extra):
    body = {
        "client_id": KEY,
        "client_secret": SECRET,
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": id_token,
        "subject_token_type": ID_TOKEN_TYPE,
        "requested_token_type": OFFLINE_TOKEN_TYPE,
        "expiring": "1",
    } | extra
    if as_form:
        return client.post("/admin/oauth/access_token", data=body, headers={"Host": host})
    return client.post("/admin/oauth/access_token", json=body, headers={"Host": host})


def test_valid_id_token_gets_expiring_offline_token_with_toml_scopes(client, minter, state):
    response = exchange(client, minter.mint(SHOP))

    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] == 3600 and body["refresh_token"].startswith("shprt_")
    granted = set(body["scope"].split(","))
    assert {"write_customers", "read_orders"} <= granted  # write_customers includes read_customers
    assert granted == set(state.config.scopes)  # required + optional: a merchant who granted every feature
    assert state.tokens.check_access(SHOP, body["access_token"]) == granted
    assert state.tokens.exchange_count[SHOP] == 1


def test_form_body_and_integer_expiring_flag_are_accepted(client, minter):
    response = exchange(client, minter.mint(SHOP), as_form=True)

    assert response.status_code == 200
    assert "refresh_token" in response.get_json()


def test_without_expiring_flag_the_token_does_not_expire(client, minter):
    response = exchange(client, minter.mint(SHOP), expiring="0")

    assert set(response.get_json()) == {"access_token", "scope"}


@pytest.mark.parametrize(
    ("case", "mint_kwargs"),
    [
        ("wrong audience", lambda now: {"aud": "someone-else"}),
        ("expired beyond skew", lambda now: {"issued_at": now - 60 - 11}),
        ("not yet valid", lambda now: {"nbf": int(now) + 30}),
        ("iss names another shop", lambda now: {"iss": "https://other.myshopify.com/admin"}),
        ("dest names another shop", lambda now: {"dest": "https://other.myshopify.com"}),
        ("signed with another key", lambda now: {"key": "not-the-secret"}),
        ("missing sid", lambda now: {"omit": ("sid",)}),
        ("missing exp", lambda now: {"omit": ("exp",)}),
    ],
)
def test_bad_id_token_is_rejected_with_400_invalid_subject_token(client, minter, case, mint_kwargs):
    # Times are taken when the test runs, not when it is collected.
    response = exchange(client, minter.mint(SHOP, **mint_kwargs(time.time())))

    assert response.status_code == 400, case
    assert response.get_json()["error"] == "invalid_subject_token"
    assert response.get_json()["error_description"]


def test_token_minted_for_one_shop_is_refused_on_another_shops_host(client, minter):
    response = exchange(client, minter.mint(SHOP), host="other.myshopify.com")

    assert response.status_code == 400


def test_expired_within_clock_skew_is_still_accepted(client, minter):
    response = exchange(client, minter.mint(SHOP, issued_at=time.time() - 60 - 5))

    assert response.status_code == 200


def test_garbage_subject_token_is_rejected(client):
    assert exchange(client, "not-a-jwt").status_code == 400


def test_wrong_client_secret_is_invalid_client(client, minter):
    response = exchange(client, minter.mint(SHOP), client_secret="wrong")

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_unknown_shop_is_not_found(client, minter):
    response = exchange(client, minter.mint("nobody.myshopify.com"), host="nobody.myshopify.com")

    assert response.status_code == 404


def test_online_tokens_are_refused_clearly(client, minter):
    response = exchange(
        client,
        minter.mint(SHOP),
        requested_token_type="urn:shopify:params:oauth:token-type:online-access-token",
    )

    assert response.status_code == 400
    assert "offline" in response.get_json()["error_description"]


def test_scope_override_changes_what_is_granted(state, minter):
    provider = OAuthProvider(state)
    provider.scope_overrides[SHOP] = {"read_customers"}
    app = Flask(__name__)
    app.register_blueprint(provider.blueprint())

    response = exchange(app.test_client(), minter.mint(SHOP))

    assert response.get_json()["scope"] == "read_customers"
