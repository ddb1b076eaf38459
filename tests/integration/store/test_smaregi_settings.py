"""The Smaregi settings page: connect through Smaregi's authorisation (stand-in), state, toggles, stores."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app.customers.events import apply_customer
from app.domain.events import CustomerEvent
from app.integrations.periodic import push_tick
from app.models.inbox import InboxEvent, InboxStatus
from app.models.integrations import SmaregiAuthState, SmaregiConnection, SmaregiStore
from app.models.shop import Shop
from tests.integration.admin import conftest as admin_fixtures
from tests.integration.admin.conftest import Admin
from tests.integration.store.conftest import CONTRACT, WEBHOOK_SECRET
from tests.integration.store.helpers import deliver, store_member, work

admin, installed = admin_fixtures.admin, admin_fixtures.installed  # the admin stand-in's fixtures
APP_ID, APP_SECRET = "tsunagu-app-id", "tsunagu-app-secret-value"
CALLBACK = "https://tsunagu.test/integrations/smaregi/oauth/callback"


@pytest.fixture
def app_creds(app, smaregi):
    """App-level Smaregi credentials in the settings; the stand-in knows the app and its Redirect URI."""
    original = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(
        original,
        smaregi_client_id=APP_ID,
        smaregi_client_secret=APP_SECRET,
        smaregi_webhook_secret=WEBHOOK_SECRET,
        smaregi_environment="dev",
    )
    smaregi.register_app(APP_ID, APP_SECRET, CALLBACK)
    contract = smaregi.contracts[CONTRACT]
    contract.client_id, contract.client_secret = (
        APP_ID,
        APP_SECRET,
    )  # app-level credentials reach every contract
    smaregi.add_store(CONTRACT, "2", "梅田店")
    yield
    app.config["SETTINGS"] = original


@pytest.fixture
def page(admin: Admin, installed, app_creds) -> Admin:
    return admin


def start(page: Admin) -> str:
    response = page.post("/settings/smaregi/connect", {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["authorize_url"]


def connect(page: Admin, smaregi, client, contract: str = CONTRACT):
    callback = smaregi.approve(start(page), contract)
    return client.get(callback.removeprefix("https://tsunagu.test"))


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def test_the_page_renders_in_both_languages_and_shows_no_secret(page, smaregi, client, session):
    assert "スマレジと接続" in page.html("/settings/smaregi", locale="ja")
    assert "Connect Smaregi" in page.html("/settings/smaregi", locale="en")
    connect(page, smaregi, client)
    for locale, word in (("ja", "接続済み"), ("en", "Connected")):
        html = page.html("/settings/smaregi", locale=locale)
        assert word in html and CONTRACT in html and "梅田店" in html
        assert APP_SECRET not in html and WEBHOOK_SECRET not in html
    assert 'href="/settings/smaregi?' in page.html("/", locale="en")  # in the app nav


def test_connect_stores_the_contract_for_the_shop_that_asked(page, installed, smaregi, client, session):
    url = start(page)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://id.smaregi.dev/authorize?")
    assert (
        query["client_id"] == [APP_ID]
        and query["redirect_uri"] == [CALLBACK]
        and "openid" in query["scope"][0]
    )
    response = client.get(smaregi.approve(url, CONTRACT).removeprefix("https://tsunagu.test"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/store/test-shop/apps/test-api-key/settings/smaregi")
    row = session.get(SmaregiConnection, installed.id)
    assert row is not None and row.contract_id == CONTRACT and row.environment == "dev"
    assert row.client_id == APP_ID
    names = dict(session.execute(select(SmaregiStore.store_id, SmaregiStore.name)).all())
    assert names == {"1": "渋谷店", "2": "梅田店"}
    # The stored credentials work: the webhook secret is the app's, and a token is issued for the contract.
    assert deliver(client, smaregi, "pos:customers", "created", []).status_code == 200


def test_missing_forged_reused_expired_and_other_shop_states_are_refused(
    page, installed, smaregi, client, session, caplog
):
    url = start(page)
    callback = smaregi.approve(url, CONTRACT).removeprefix("https://tsunagu.test")
    state = state_of(url)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    base = "/integrations/smaregi/oauth/callback"
    shop_id, nonce, signature = state.split(".")
    forged = f"{shop_id}.{nonce}.{'0' * len(signature)}"
    other_shop = Shop(domain="other-shop.myshopify.com", name="Other", currency="JPY", timezone="Asia/Tokyo")
    session.add(other_shop)
    session.commit()
    rebound = f"{other_shop.id}.{nonce}.{signature}"  # the signature names the issuing shop only
    for query in ({"code": code}, {"code": code, "state": forged}, {"code": code, "state": rebound}):
        assert client.get(base, query_string=query).status_code == 400
    assert session.get(SmaregiConnection, installed.id) is None
    assert client.get(callback).status_code == 302  # the genuine one still works once
    assert client.get(callback).status_code == 400  # and never twice
    assert code not in caplog.text and APP_SECRET not in caplog.text
    late = start(page)
    session.execute(
        SmaregiAuthState.__table__.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    session.commit()
    late_callback = smaregi.approve(late, CONTRACT).removeprefix("https://tsunagu.test")
    assert client.get(late_callback).status_code == 400


def test_a_contract_connected_to_another_shop_is_not_taken_over(page, installed, smaregi, client, session):
    other = Shop(domain="other-shop.myshopify.com", name="Other", currency="JPY", timezone="Asia/Tokyo")
    session.add(other)
    session.flush()
    session.add(
        SmaregiConnection(
            shop_id=other.id,
            contract_id=CONTRACT,
            client_id="x",
            client_secret_enc=b"x",
            webhook_secret_enc=b"x",
        )
    )
    session.commit()
    assert connect(page, smaregi, client).status_code == 400
    assert session.get(SmaregiConnection, installed.id) is None
    assert session.get(SmaregiConnection, other.id).contract_id == CONTRACT


def test_toggles_are_saved_and_respected(page, installed, smaregi, client, session):
    connect(page, smaregi, client)
    saved = page.post("/settings/smaregi", {"import_sales": "on", "export_members": "on"})
    assert saved.status_code == 200, saved.get_json()
    session.expire_all()
    row = session.get(SmaregiConnection, installed.id)
    assert (row.import_sales, row.push_enabled, row.export_members, row.register_points) == (
        True,
        False,
        True,
        False,
    )
    # Push off: a linked member's sale is credited, yet nothing is written to the register.
    apply_customer(session, installed, CustomerEvent("create", "7001", phone="+81 90 1234 5678"))
    customer_id = smaregi.add_customer(CONTRACT, "C0001", mobile="090-1234-5678")
    deliver(client, smaregi, "pos:customers", "created", [customer_id])
    work(session)
    head = smaregi.ring_sale(CONTRACT, "1", 30000, datetime.now(UTC) - timedelta(days=20), customer_id)
    deliver(client, smaregi, "pos:transactions", "created", [head])
    work(session)
    assert store_member(session, installed, "C0001").points_available == 300
    push_tick()
    assert not [r for r in smaregi.requests if r[0] in ("PATCH", "POST")]
    # Push on again: the next pass brings the register up to date.
    page.post("/settings/smaregi", {"import_sales": "on", "push_enabled": "on"})
    push_tick()
    assert smaregi.contracts[CONTRACT].customers[customer_id]["point"] == "300"
    # Import off: a new receipt is recorded but never credited.
    page.post("/settings/smaregi", {"push_enabled": "on"})
    second = smaregi.ring_sale(CONTRACT, "1", 10000, datetime.now(UTC), customer_id)
    deliver(client, smaregi, "pos:transactions", "created", [second])
    assert work(session) == 0
    ignored = session.scalar(
        select(func.count()).select_from(InboxEvent).where(InboxEvent.status == InboxStatus.IGNORED)
    )
    assert ignored == 1 and store_member(session, installed, "C0001").points_available == 300


def test_store_names_are_validated_and_saved(page, installed, smaregi, client, session):
    connect(page, smaregi, client)
    bad = page.post("/settings/smaregi", {"store_name.1": " ", "store_name.99": "x"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"store_name.1", "store_name.99"}
    assert (
        page.post("/settings/smaregi", {"store_name.1": "渋谷本店", "push_enabled": "on"}).status_code == 200
    )
    session.expire_all()
    assert session.scalar(select(SmaregiStore.name).where(SmaregiStore.store_id == "1")) == "渋谷本店"
    smaregi.add_store(CONTRACT, "3", "京都店")
    assert page.post("/settings/smaregi/stores", {}).get_json()["ok"] is True
    assert session.scalar(select(SmaregiStore.name).where(SmaregiStore.store_id == "1")) == "渋谷本店"
    assert session.scalar(select(SmaregiStore.name).where(SmaregiStore.store_id == "3")) == "京都店"


def test_disconnect_forgets_the_contract(page, installed, smaregi, client, session):
    connect(page, smaregi, client)
    assert page.post("/settings/smaregi/disconnect", {}).status_code == 200
    session.expire_all()
    assert session.get(SmaregiConnection, installed.id) is None
    assert deliver(client, smaregi, "pos:customers", "created", []).status_code == 401
    assert "Connect Smaregi" in page.html("/settings/smaregi", locale="en")


def test_without_app_credentials_there_is_no_connect(admin, installed, smaregi, client):
    assert "credentials are not set up" in admin.html("/settings/smaregi", locale="en")
    assert admin.post("/settings/smaregi/connect", {}).status_code == 409
    assert client.get("/integrations/smaregi/oauth/callback?state=1.a.b&code=c").status_code == 404
