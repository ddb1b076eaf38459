"""The pytest plugin's fixtures: a fresh state with the test shop, the app, a transport, id_tokens."""

import httpx

from emulator.fixtures import TEST_SHOP
from emulator.oauth import ID_TOKEN_TYPE, OFFLINE_TOKEN_TYPE, TOKEN_EXCHANGE
from emulator.server import emulator_of


def test_fixtures_give_a_working_emulator_for_the_test_shop(
    emulator_state, emulator_transport, mint_id_token
):
    assert set(emulator_state.shops) == {TEST_SHOP}
    with httpx.Client(transport=emulator_transport) as client:
        exchanged = client.post(
            f"https://{TEST_SHOP}/admin/oauth/access_token",
            json={
                "client_id": emulator_state.api_key,
                "client_secret": emulator_state.api_secret,
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": mint_id_token(),
                "subject_token_type": ID_TOKEN_TYPE,
                "requested_token_type": OFFLINE_TOKEN_TYPE,
                "expiring": 1,
            },
        )
        assert exchanged.status_code == 200
        answer = client.post(
            f"https://{TEST_SHOP}/admin/api/2026-07/graphql.json",
            json={"query": "{ shop { name } }"},
            headers={"X-Shopify-Access-Token": exchanged.json()["access_token"]},
        )
    assert answer.json()["data"]["shop"]["name"] == "Test Shop"


def test_mint_id_token_accepts_claim_overrides(emulator_transport, mint_id_token, emulator_state):
    with httpx.Client(transport=emulator_transport) as client:
        response = client.post(
            f"https://{TEST_SHOP}/admin/oauth/access_token",
            data={
                "client_id": emulator_state.api_key,
                "client_secret": emulator_state.api_secret,
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": mint_id_token(aud="another-app"),
                "subject_token_type": ID_TOKEN_TYPE,
                "requested_token_type": OFFLINE_TOKEN_TYPE,
            },
        )
    assert response.status_code == 400


def test_emulator_app_exposes_its_handles(emulator_app, emulator_state):
    handles = emulator_of(emulator_app)

    assert handles.state is emulator_state
    assert handles.app_url
    assert handles.faults.faults == []
