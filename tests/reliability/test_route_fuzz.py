"""Bad input on every public route never gets a 5xx: random path parameters, query strings, form fields,
bodies and credentials (none, garbage, a valid App Bridge session token) against the installed test shop.

The route list comes from the app's own URL map, so a route added later is fuzzed without editing this file;
a test below fails if a route appears that the strategy cannot fill in.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models.processes import beat
from emulator.fixtures import TEST_SHOP
from emulator.oauth import admin_host_param
from tests.reliability.conftest import size

FIELDS = [  # names the dashboard, proxy and install forms read, plus strangers
    "basis", "cycle_start_month", "decision", "downgrade_step", "downgrade_timing", "expires",
    "expiry_days", "expiry_mode", "handle", "key", "key2", "member_id", "name", "negative_policy",
    "other_id", "pending_days", "period", "points", "rank", "rate_percent", "reason", "tiers", "value1",
    "window", "q", "locale", "lang", "shop", "card_number", "phone", "path_prefix", "code", "state", "hmac",
    "timestamp", "host", "id_token", "signature", "logged_in_customer_id", "embedded", "month", "token",
    "kind", "starts_at", "ends_at", "multiplier", "bonus_points", "lapse_days", "reward", "code_kind",
    "code_value", "code_valid_days", "budget", "holdout_pct", "weekdays", "channels",
    "zzz",
]  # fmt: skip
ODD = ["", "0", "-1", "1e309", "NaN", "2026-02-30", "9" * 40, "null", "[]", "{}", "%00", "../.."]
INT32_MAX = 2**31 - 1  # the id columns are INTEGER on PostgreSQL
TEXT = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=0x10FFFF, blacklist_categories=["Cs"]), max_size=40
)
VALUES = st.one_of(
    TEXT,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        ["", "0", "-1", "1e309", "NaN", "2026-02-30", "9" * 40, "null", "[]", "{}", "%00", "../.."]
    ),
)
PARAMS = st.dictionaries(st.sampled_from(FIELDS) | TEXT.filter(bool), VALUES, max_size=6)
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def routes(app) -> list[tuple[str, str]]:
    """(method, rule) for every route but static files."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule))
    return sorted(out)


def fill(rule: str, draw) -> str:
    """A concrete path for a rule, its parameters drawn (ints of any size, any text)."""

    def value(match: re.Match) -> str:
        kind = match.group(1) or "string"
        if kind == "int":
            # Within the id columns' range here; larger ids have a test of their own below.
            return str(draw(st.integers(min_value=0, max_value=INT32_MAX)))
        if kind == "path":
            return "/".join(quote(draw(TEXT), safe="") or "x" for _ in range(draw(st.integers(1, 3))))
        return quote(draw(TEXT.filter(bool)) or "x", safe="")

    return CONVERTER.sub(value, rule)


def test_every_route_is_covered_by_the_strategy(app):
    kinds = {m.group(1) or "string" for _, rule in routes(app) for m in CONVERTER.finditer(rule)}
    assert kinds <= {"int", "string", "path"}, kinds
    assert len(routes(app)) >= 30  # the dashboard, proxy, install, webhooks and health routes


@pytest.fixture
def installed_admin(app, client, session, emulator_transport, mint_id_token):
    """The test shop installed through a first page load; the emulator answers Admin API calls."""
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport
    query = {
        "embedded": "1",
        "host": admin_host_param(TEST_SHOP),
        "shop": TEST_SHOP,
        "id_token": mint_id_token(),
    }
    assert client.get(f"/?{urlencode(query)}").status_code == 200
    # A deployment whose worker and syncer are alive: /readyz answers 503 by design when they are not.
    beat(session, "worker", "fuzz:1:worker", force=True)
    beat(session, "syncer", "syncer:fuzz:1:syncer", force=True)
    try:
        yield client, mint_id_token
    finally:
        app.config.pop("SHOPIFY_TRANSPORT", None)


@settings(
    max_examples=size(150, 3000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_bad_input_on_any_route_is_never_a_server_error(app, installed_admin, data):
    client, mint = installed_admin
    method, rule = data.draw(st.sampled_from(routes(app)), label="route")
    path = fill(rule, data.draw)
    query = data.draw(PARAMS, label="query")
    auth = data.draw(st.sampled_from(["none", "garbage", "bearer", "id_token_param"]), label="auth")
    headers = {}
    if auth == "garbage":
        headers["Authorization"] = "Bearer " + data.draw(
            TEXT.map(lambda t: t.encode("utf-8", "replace").hex())
        )
    elif auth == "bearer":
        headers["Authorization"] = f"Bearer {mint()}"
    elif auth == "id_token_param":
        query = {**query, "id_token": mint(), "shop": TEST_SHOP, "embedded": "1"}
    kwargs: dict = {"headers": headers, "query_string": query}
    if method == "POST":
        shape = data.draw(st.sampled_from(["form", "json", "bytes"]), label="body")
        if shape == "form":
            kwargs["data"] = data.draw(PARAMS, label="form")
        elif shape == "json":
            kwargs["data"] = json.dumps(data.draw(PARAMS, label="json"))
            kwargs["content_type"] = "application/json"
        else:
            kwargs["data"] = data.draw(st.binary(max_size=200), label="bytes")
            kwargs["content_type"] = data.draw(
                st.sampled_from(["application/octet-stream", "multipart/form-data", "text/plain", "x/\x7f"])
            )
    response = client.open(path, method=method, **kwargs)
    assert response.status_code < 500, (method, path, response.status_code, response.get_data()[:300])


@pytest.mark.parametrize("number", [INT32_MAX + 1, 2**63, 2**70])
def test_ids_beyond_the_id_columns_are_refused_not_a_server_error(app, installed_admin, number):
    """Flask's int converter takes any size; the database cannot compare it with an INTEGER column
    (PostgreSQL: DataError "integer out of range" above 2**31 - 1; SQLite: OverflowError above 2**63 - 1)."""
    client, mint = installed_admin
    failures = []
    for method, rule in routes(app):
        if "<int:" not in rule:
            continue
        path = CONVERTER.sub(str(number), rule)
        response = client.open(path, method=method, headers={"Authorization": f"Bearer {mint()}"})
        if response.status_code >= 500:
            failures.append((method, path, response.status_code))
    assert failures == []
