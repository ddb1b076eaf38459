"""AdminClient: data or a precise exception, one refresh-and-retry on 401, cost readings recorded per shop."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from app.models import ShopSyncStatus
from app.models.types import utcnow
from app.shopify import client as client_module
from app.shopify.client import AdminClient
from app.shopify.errors import (
    ShopifyAuthError,
    ShopifyGraphQLError,
    ShopifyThrottled,
    ShopifyUnavailable,
    ShopifyUserErrors,
)
from app.shopify.graphql import UnknownDocument
from app.shopify.tokens import TokenGrant, store_grant

COST = {
    "requestedQueryCost": 12,
    "actualQueryCost": 10,
    "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990.0, "restoreRate": 100.0},
}


class FakeShopify:
    """Scripted Admin API answers; records what the app sent."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/admin/oauth/access_token":
            body = json.loads(request.content)
            assert body["grant_type"] == "refresh_token" and body["refresh_token"] == "shprt_old"
            return httpx.Response(
                200,
                json={
                    "access_token": "shpat_new",
                    "scope": "read_customers",
                    "expires_in": 3600,
                    "refresh_token": "shprt_new",
                    "refresh_token_expires_in": 7776000,
                },
            )
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def installed(session, shop):
    store_grant(
        session,
        shop,
        TokenGrant("shpat_old", "read_customers", utcnow() + timedelta(hours=1), "shprt_old", None),
    )
    session.commit()
    client_module._cost_written.clear()
    return shop


@pytest.fixture
def fake(app):
    def install(*answers):
        fake = FakeShopify(*answers)
        app.config["SHOPIFY_TRANSPORT"] = httpx.MockTransport(fake)
        return fake

    yield install
    app.config.pop("SHOPIFY_TRANSPORT", None)


def ok(data, cost=COST):
    return httpx.Response(200, json={"data": data, "extensions": {"cost": cost}})


def test_named_document_returns_data_and_records_cost(installed, fake, session):
    shopify = fake(ok({"shop": {"name": "Test"}}))
    client = AdminClient(installed)
    assert client.execute("shop_details") == {"shop": {"name": "Test"}}
    sent = shopify.requests[0]
    assert str(sent.url) == "https://test-shop.myshopify.com/admin/api/2026-07/graphql.json"
    assert sent.headers["X-Shopify-Access-Token"] == "shpat_old"
    assert "query ShopDetails" in json.loads(sent.content)["query"]
    assert client.last_cost == COST
    status = session.get(ShopSyncStatus, installed.id)
    assert (status.api_available, status.api_maximum, status.api_restore_rate) == (1990, 2000, 100)


def test_literal_documents_and_variables_pass_through(installed, fake):
    shopify = fake(ok({"shop": {"id": "1"}}))
    AdminClient(installed).execute("query Q($n: Int) { shop { id } }", {"n": 1})
    assert json.loads(shopify.requests[0].content)["variables"] == {"n": 1}


def test_unknown_document_name_is_an_error(installed, fake):
    with pytest.raises(UnknownDocument):
        AdminClient(installed).execute("no_such_document")


def test_throttled_carries_cost_and_counts(installed, fake, session):
    cost = COST | {
        "actualQueryCost": None,
        "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 2, "restoreRate": 100},
    }
    throttled = httpx.Response(
        200,
        json={
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": cost},
        },
    )
    fake(throttled, throttled)
    client = AdminClient(installed)
    for _ in range(2):
        with pytest.raises(ShopifyThrottled) as caught:
            client.execute("shop_details")
    assert caught.value.cost == cost
    assert caught.value.retry_after == pytest.approx(0.1)
    assert session.get(ShopSyncStatus, installed.id).throttled_count == 2


def test_user_errors_are_raised_with_the_payload(installed, fake):
    errors = [{"field": ["metafields", "0", "value"], "message": "is invalid", "code": "INVALID_VALUE"}]
    fake(ok({"metafieldsSet": {"metafields": [], "userErrors": errors}}))
    with pytest.raises(ShopifyUserErrors) as caught:
        AdminClient(installed).execute(
            "mutation { metafieldsSet(metafields: []) { userErrors { message } } }"
        )
    assert caught.value.mutation == "metafieldsSet"
    assert caught.value.user_errors == errors


def test_empty_user_errors_are_success(installed, fake):
    fake(ok({"tagsAdd": {"node": {"id": "gid://shopify/Customer/1"}, "userErrors": []}}))
    data = AdminClient(installed).execute(
        'mutation { tagsAdd(id: "x", tags: []) { userErrors { message } } }'
    )
    assert data["tagsAdd"]["userErrors"] == []


def test_other_graphql_errors(installed, fake):
    fake(
        httpx.Response(
            200, json={"errors": [{"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}]}
        )
    )
    with pytest.raises(ShopifyGraphQLError) as caught:
        AdminClient(installed).execute("shop_details")
    assert caught.value.codes == {"ACCESS_DENIED"}


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([httpx.Response(503), httpx.Response(503)], id="503 after retry"),
        pytest.param([httpx.Response(500)], id="500"),
        pytest.param([httpx.Response(429, headers={"Retry-After": "0"})] * 2, id="429 after retry"),
        pytest.param([httpx.ConnectError("refused")], id="network"),
    ],
)
def test_unavailable(installed, fake, answers, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)  # shopifyapp's backoff, not what is tested here
    fake(*answers)
    with pytest.raises(ShopifyUnavailable):
        AdminClient(installed, max_retries=1).execute("shop_details")


def test_401_refreshes_once_and_retries_with_the_new_token(installed, fake, session):
    shopify = fake(httpx.Response(401), ok({"shop": {"name": "Test"}}))
    assert AdminClient(installed).execute("shop_details") == {"shop": {"name": "Test"}}
    graphql = [r for r in shopify.requests if r.url.path.endswith("graphql.json")]
    assert [r.headers["X-Shopify-Access-Token"] for r in graphql] == ["shpat_old", "shpat_new"]
    assert sum(r.url.path == "/admin/oauth/access_token" for r in shopify.requests) == 1


def test_401_after_refresh_is_an_auth_error(installed, fake):
    fake(httpx.Response(401), httpx.Response(401))
    with pytest.raises(ShopifyAuthError):
        AdminClient(installed).execute("shop_details")


def test_cost_is_written_at_most_every_few_seconds(installed, fake, session):
    fake(
        *[
            ok(
                {"shop": {"id": "1"}},
                COST | {"throttleStatus": COST["throttleStatus"] | {"currentlyAvailable": n}},
            )
            for n in (1000, 900)
        ]
    )
    client = AdminClient(installed)
    client.execute("shop_details")
    client.execute("shop_details")
    session.expire_all()
    assert session.get(ShopSyncStatus, installed.id).api_available == 1000  # second reading kept in memory
    assert client.last_cost["throttleStatus"]["currentlyAvailable"] == 900


@pytest.mark.postgres
def test_cost_reading_never_waits_for_a_row_another_transaction_holds(app, committed, fake):
    import time

    from sqlalchemy import select

    from app.extensions import db
    from app.models import Shop

    shop = Shop(domain="locked-shop.myshopify.com")
    db.session.add(shop)
    db.session.flush()
    store_grant(
        db.session, shop, TokenGrant("shpat_old", "", utcnow() + timedelta(hours=1), "shprt_old", None)
    )
    db.session.add(ShopSyncStatus(shop_id=shop.id, api_available=1))
    db.session.commit()
    client_module._cost_written.clear()
    fake(ok({"shop": {"id": "1"}}))
    with db.engine.connect() as other, other.begin():
        other.execute(select(ShopSyncStatus).where(ShopSyncStatus.shop_id == shop.id).with_for_update())
        started = time.monotonic()
        AdminClient(shop).execute("shop_details")
        assert time.monotonic() - started < 2.0
