"""Every route: shop A's session cannot read or change shop B's data (parametrized over app.url_map).

A route either carries `embedded_page`/`session_fetch` or, under /pos/api, `pos_session` (the POS UI
extension's session token; app/pos/auth.py) — the verified shop becomes g.shop — or is listed in
PUBLIC with the reason it is safe without an admin session. Routes added later are covered automatically:
an unlisted route without a decorator fails `test_every_route_is_verified_or_explicitly_public`.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import Integer, select
from werkzeug.routing import FloatConverter, IntegerConverter

from app import create_app
from app.config import load_settings
from app.extensions import db
from app.models import Shop, ShopSyncStatus
from app.models.member import Member
from app.models.rewards import Campaign
from app.models.types import utcnow
from app.shopify.tokens import TokenGrant, store_grant
from tests.conftest import TEST_ENV
from tests.integration.auth.conftest import SHOP_A
from tests.integration.auth.helpers import install_via_page_load

PUBLIC = {
    "static": "static files: no shop data",
    "health.healthz": "database liveness only",
    "health.readyz": "readiness: the database and the worker/syncer heartbeats; no shop data",
    "metrics.metrics": "Prometheus text: bearer METRICS_TOKEN when set, none in production without it",
    "install.start": "starts the authorization-code grant; reads no shop data",
    "install.callback": "query HMAC, timestamp and single-use state are verified before anything",
    "install.patch_id_token": "App Bridge bootstrap page; no shop data",
    "webhooks.receive": "Shopify webhooks: HMAC of the raw body (app/webhooks)",
    "smaregi.webhook": "Smaregi webhooks: verified per contract, then refetched by id (app/integrations)",
    "smaregi.oauth_callback": "Smaregi authorisation return: signed single-use state names the shop first",
    "line.webhook": "LINE webhooks: channel signature (app/integrations/line)",
    "flow.action": "Shopify Flow actions: HMAC of the raw body with the app secret (app/flow)",
    "proxy.card": "app proxy: Shopify's query signature and the logged-in customer (app/proxy)",
    "proxy.link_card": "app proxy: signature + logged-in customer (app/proxy)",
    "proxy.line_link": "app proxy: signature + logged-in customer (app/proxy)",
    "proxy.points_page": "app proxy: signature + logged-in customer (app/proxy)",
    "proxy.purchases_page": "app proxy: signature + logged-in customer (app/proxy)",
    "proxy.redeem_page": "app proxy: signature + logged-in customer (app/proxy)",
    "proxy.redeem_submit": "app proxy: signature + logged-in customer + signed confirmation (app/proxy)",
    "proxy.birth_month_submit": "app proxy: signature + logged-in customer + signed form token (app/proxy)",
}
# Public routes that may answer 2xx/3xx to an unsigned request because they expose nothing.
OPEN_WITHOUT_SIGNATURE = {
    "static",
    "health.healthz",
    "health.readyz",
    "metrics.metrics",
    "install.start",
    "install.patch_id_token",
}
SHOP_B = "shop-b.myshopify.com"
B_NAME = "Marker Shop B 7f3c"
B_CUSTOMER = "990000000001"
B_MEMBER_NUMBER = "B7F3C000111"


def _rules():
    application = create_app(load_settings(dict(TEST_ENV, DATABASE_URL="sqlite://")))
    for rule in sorted(application.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            view = application.view_functions[rule.endpoint]
            yield pytest.param(rule, method, getattr(view, "tsunagu_auth", None), id=f"{method} {rule.rule}")


ROUTES = list(_rules())


def test_every_route_is_verified_or_explicitly_public():
    unguarded = sorted(
        {p.values[0].endpoint for p in ROUTES if p.values[2] is None and p.values[0].endpoint not in PUBLIC}
    )
    assert unguarded == [], "add embedded_page/session_fetch, or list the route in PUBLIC with why"


def test_pos_extension_routes_take_pos_session_tokens_only():
    """/pos/api is called by the POS extension with its session token, never public, never an admin page."""
    pos = {p.values[0].endpoint: p.values[2] for p in ROUTES if p.values[0].rule.startswith("/pos/api/")}
    assert pos, "the POS extension's endpoints are registered"
    assert set(pos.values()) == {"pos_session"}
    assert all(not endpoint.startswith("pos.") for endpoint in PUBLIC)


@pytest.fixture
def shop_b(session):
    """Shop B: installed, with a token, a sync status and a member carrying recognisable markers."""
    shop = Shop(domain=SHOP_B, name=B_NAME, granted_scopes="read_customers,write_customers")
    session.add(shop)
    session.flush()
    store_grant(
        session,
        shop,
        TokenGrant("shpat_b_secret", "read_customers", utcnow() + timedelta(hours=1), "shprt_b", None),
    )
    session.add(ShopSyncStatus(shop_id=shop.id, api_available=1234))
    session.add(Member(shop_id=shop.id, shopify_customer_id=B_CUSTOMER, member_number=B_MEMBER_NUMBER))
    session.add(Campaign(shop_id=shop.id, name=B_NAME, kind="lapsing", lapse_days=90, starts_at=utcnow()))
    session.commit()
    return shop


def _snapshot(shop_id: int) -> dict[str, list]:
    """Every row that belongs to the shop, in every table with a shop_id (and its shops row)."""
    out: dict[str, list] = {}
    for table in db.metadata.sorted_tables:
        column = table.c.get("shop_id") if table.name != "shops" else table.c.id
        if column is None:
            continue
        rows = db.session.execute(select(table).where(column == shop_id)).all()
        out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def _b_ids(shop_id: int) -> list[int]:
    """Integer ids of shop B's rows, to put into path parameters."""
    ids: set[int] = {shop_id}
    for table in db.metadata.sorted_tables:
        if "shop_id" in table.c and "id" in table.c and isinstance(table.c.id.type, Integer):
            ids |= set(db.session.execute(select(table.c.id).where(table.c.shop_id == shop_id)).scalars())
    return sorted(ids)[:8]


def _urls(rule, shop_id: int) -> list[str]:
    """The rule's URL with shop B's ids/domain in every path parameter (one URL per candidate id)."""
    if not rule.arguments:
        return [rule.rule]
    urls = []
    for candidate in _b_ids(shop_id):
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            is_int = isinstance(converter, (IntegerConverter, FloatConverter))
            values[name] = candidate if is_int else ("2026-10" if name == "period" else SHOP_B)
        if rule.endpoint == "static":
            values = {"filename": "tsunagu.css"}
        path = rule.rule
        for name, value in values.items():
            path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value), path)
        urls.append(path)
    return sorted(set(urls))


def _assert_no_b(response, before, shop_id):
    body = response.get_data(as_text=True)
    for marker in (B_NAME, B_CUSTOMER, B_MEMBER_NUMBER, "shpat_b_secret"):
        assert marker not in body
    db.session.expire_all()
    assert _snapshot(shop_id) == before


# A form body the dashboard's write routes accept as valid (points adjustment, review decision, ...),
# naming shop B wherever a field could: a route that did not scope by the session's shop would write.
PROBE_FORM = {
    "shop": SHOP_B,
    "shop_id": "0",
    "shop_domain": SHOP_B,
    "points": "100",
    "reason": "isolation probe",
    "key": "isolation-probe-1",
    "decision": "dismiss",
}


def _send(client, method, url, headers=None):
    if method == "GET":
        sep = "&" if "?" in url else "?"
        return client.get(f"{url}{sep}shop={SHOP_B}", headers=headers or {})
    return client.open(url, method=method, data=PROBE_FORM, headers=headers or {})


def test_the_probe_form_writes_where_the_shop_owns_the_row(client, emulator, session):
    """The probe is able to change data: posted for shop A's own member, it adjusts the points."""
    shop_a = install_via_page_load(client, emulator, SHOP_A)
    member = Member(shop_id=shop_a.id, shopify_customer_id="770000000001", member_number="A0000000001")
    session.add(member)
    session.commit()
    response = _send(client, "POST", f"/members/{member.id}/points", headers=emulator.bearer(SHOP_A))
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 100


@pytest.mark.parametrize("rule,method,guard", ROUTES)
def test_shop_a_cannot_read_or_change_shop_b(client, emulator, shop_b, rule, method, guard):
    install_via_page_load(client, emulator, SHOP_A)
    before = _snapshot(shop_b.id)
    for url in _urls(rule, shop_b.id):
        if guard is None:
            # Public: an unsigned request naming shop B must neither expose nor change B.
            response = _send(client, method, url, headers={"X-Shopify-Shop-Domain": SHOP_B})
            if rule.endpoint not in OPEN_WITHOUT_SIGNATURE:
                assert response.status_code >= 400, f"{method} {url} answered an unsigned request"
            _assert_no_b(response, before, shop_b.id)
            continue
        # No session at all, and a token for B forged without the app secret: refused.
        forged = emulator.mint(SHOP_B, key="forged-secret-forged-secret-forged-secret")
        for headers in ({}, {"Authorization": f"Bearer {forged}"}):
            response = _send(client, method, url, headers=headers)
            assert response.status_code in (302, 401), f"{method} {url}: {response.status_code}"
            _assert_no_b(response, before, shop_b.id)
        # A valid session for shop A, with B named everywhere: whatever it answers concerns A only.
        if guard == "embedded_page" and method == "GET":
            sep = "&" if "?" in url else "?"
            response = client.get(url + sep + emulator.page_url(SHOP_A, id_token=emulator.mint(SHOP_A))[2:])
        else:
            response = _send(client, method, url, headers=emulator.bearer(SHOP_A))
        _assert_no_b(response, before, shop_b.id)
