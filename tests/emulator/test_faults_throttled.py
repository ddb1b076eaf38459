"""THROTTLED storms: the fault drains the shop's bucket so the real GraphQL pipeline answers THROTTLED."""

import httpx
import pytest

from emulator.server import create_emulator, emulator_of
from emulator.state import EmulatorState
from emulator.transport import emulator_transport

SHOP = "storm.myshopify.com"
QUERY = "{ customers(first: 10) { nodes { id email } } }"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def setup(clock):
    state = EmulatorState("test-api-key", "test-api-secret", clock=clock)
    state.install_shop(SHOP)
    app = create_emulator(state)
    token = state.tokens.issue_offline(SHOP, set(state.config.scopes), expiring=False)["access_token"]
    client = httpx.Client(transport=emulator_transport(app), base_url=f"https://{SHOP}")
    return state, emulator_of(app).faults, client, token


def query(client, token):
    response = client.post(
        "/admin/api/2026-07/graphql.json", json={"query": QUERY}, headers={"X-Shopify-Access-Token": token}
    )
    assert response.status_code == 200
    return response.json()


def test_throttled_fault_yields_a_shopify_throttled_answer_with_cost(setup, clock):
    state, faults, client, token = setup
    faults.add("throttled", times=1)

    body = query(client, token)

    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    cost = body["extensions"]["cost"]
    assert cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["currentlyAvailable"] < cost["requestedQueryCost"]
    assert state.shop(SHOP).throttled_count == 1

    clock.now += 1.0  # the bucket refills at the plan's restore rate (100 points/s on standard)
    assert "errors" not in query(client, token)


def test_storm_ratio_throttles_about_that_share_of_calls(setup, clock):
    _, faults, client, token = setup
    faults.add("throttled", ratio=0.3)

    outcomes = []
    for _ in range(200):
        outcomes.append("errors" in query(client, token))
        clock.now += 1.0

    assert 35 <= sum(outcomes) <= 85


def test_storm_on_one_shop_leaves_others_alone(setup):
    state, faults, client, token = setup
    state.install_shop("calm.myshopify.com")
    calm_token = state.tokens.issue_offline("calm.myshopify.com", set(state.config.scopes))["access_token"]
    faults.add("throttled", shop=SHOP)

    calm = httpx.Client(transport=client._transport, base_url="https://calm.myshopify.com")

    assert "errors" in query(client, token)
    assert "errors" not in query(calm, calm_token)
