"""Fault injection: 429, 5xx, slow, dropped connections, per-shop and seeded ratios, HTTP control."""

import threading

import httpx
import pytest
from flask import Flask, jsonify
from werkzeug.serving import make_server

from emulator.faults import FaultInjector
from emulator.transport import emulator_transport

SHOP = "faulty.myshopify.com"
OTHER = "healthy.myshopify.com"
GRAPHQL = "/admin/api/2026-07/graphql.json"


def backend() -> Flask:
    app = Flask(__name__)

    @app.post(GRAPHQL)
    def graphql():
        return jsonify(data={"shop": {"name": "ok"}})

    @app.get("/_emulator/inspect/ping")
    def ping():
        return jsonify(ok=True)

    return app


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def faults(sleeps):
    return FaultInjector(backend().wsgi_app, seed=1, sleep=sleeps.append)


@pytest.fixture
def client(faults):
    return httpx.Client(transport=emulator_transport(faults), base_url="http://127.0.0.1:9292")


def call(client, shop=SHOP, path=GRAPHQL):
    return client.post(path, json={"query": "{ shop { name } }"}, headers={"Host": shop})


def test_no_faults_passes_through(client):
    assert call(client).json() == {"data": {"shop": {"name": "ok"}}}


def test_rate_limit_answers_429_with_retry_after(client, faults):
    faults.add("rate_limit", retry_after=3)

    response = call(client)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert "errors" in response.json()


def test_server_error_uses_the_configured_status(client, faults):
    faults.add("server_error", status=502, times=1)

    assert call(client).status_code == 502
    assert call(client).status_code == 200


def test_slow_waits_then_answers(client, faults, sleeps):
    faults.add("slow", delay=2.5)

    assert call(client).status_code == 200
    assert sleeps == [2.5]


def test_drop_in_process_raises_what_httpx_raises_for_a_hang_up(client, faults):
    faults.add("drop")

    with pytest.raises(httpx.RemoteProtocolError):
        call(client)


def test_drop_over_a_real_socket_closes_without_a_response(faults):
    faults.add("drop", times=1)
    server = make_server("127.0.0.1", 0, faults, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}") as client:
            with pytest.raises(httpx.RemoteProtocolError):
                call(client)
            assert call(client).status_code == 200
    finally:
        server.shutdown()


def test_faults_can_target_one_shop(client, faults):
    faults.add("server_error", shop=SHOP)

    assert call(client, shop=SHOP).status_code == 503
    assert call(client, shop=OTHER).status_code == 200


def test_ratio_is_seeded_and_roughly_respected():
    def run() -> list[int]:
        injector = FaultInjector(backend().wsgi_app, seed=42)
        injector.add("rate_limit", ratio=0.25)
        with httpx.Client(transport=emulator_transport(injector), base_url="http://x") as client:
            return [call(client).status_code for _ in range(400)]

    first, second = run(), run()

    assert first == second
    assert 60 <= first.count(429) <= 140


def test_emulator_control_paths_are_never_faulted(client, faults):
    faults.add("server_error")

    assert client.get("/_emulator/inspect/ping").status_code == 200


def test_throttled_only_hits_graphql_and_needs_state(client, faults):
    faults.add("throttled")

    # Without an EmulatorState there is no bucket to drain: the request goes through unchanged.
    assert call(client).status_code == 200
    assert client.get("/_emulator/inspect/ping").status_code == 200


def test_http_control_adds_lists_and_clears(client):
    created = client.post("/_emulator/faults", json={"kind": "rate_limit", "ratio": 1.0, "shop": SHOP})
    assert created.status_code == 201 and created.json()["kind"] == "rate_limit"

    assert call(client).status_code == 429
    listing = client.get("/_emulator/faults").json()
    assert listing["fired"] == 1 and listing["faults"][0]["fired"] == 1

    client.delete("/_emulator/faults")
    assert call(client).status_code == 200


def test_http_control_rejects_unknown_kinds(client):
    assert client.post("/_emulator/faults", json={"kind": "meteor"}).status_code == 400
    assert client.post("/_emulator/faults", json={"kind": "slow", "ratio": 2}).status_code == 400


def test_an_unexpected_answer_is_a_200_without_the_objects_asked_for(client, faults):
    faults.add("unexpected", shop=SHOP)

    response = call(client)

    assert response.status_code == 200 and response.json()["data"] == {}
    assert call(client, shop=OTHER).json() == {"data": {"shop": {"name": "ok"}}}
