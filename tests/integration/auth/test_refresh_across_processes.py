"""Separate processes (own interpreters, own DB connections) hit an expired token: exactly one refresh.

Shopify is the emulator served over loopback HTTP; the processes reach it through SHOPIFY_ADMIN_ORIGIN,
the production code path for a stand-in.
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from werkzeug.serving import make_server

from app.extensions import db
from app.models import ShopToken
from app.models.types import utcnow
from app.shops.installs import exchange_id_token
from tests.conftest import TEST_ENV
from tests.integration.auth.conftest import SHOP_A
from tests.integration.auth.refresh_worker import call_shopify

PROCESSES = 4


@pytest.fixture
def served_emulator(emulator):
    server = make_server("127.0.0.1", 0, emulator.wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.mark.slow
def test_processes_refresh_an_expired_token_exactly_once(
    app, committed, emulator, served_emulator, database_url
):
    shop = exchange_id_token(SHOP_A, emulator.mint(SHOP_A))
    emulator.state.tokens.expire_access_tokens(SHOP_A)
    db.session.execute(
        update(ShopToken)
        .where(ShopToken.shop_id == shop.id)
        .values(access_expires_at=utcnow() - timedelta(1))
    )
    shop_id = shop.id
    db.session.commit()  # nothing read after it: on SQLite an open transaction holds the write lock

    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    env = dict(TEST_ENV, DATABASE_URL=database_url, SHOPIFY_ADMIN_ORIGIN=served_emulator)
    workers = [
        ctx.Process(target=call_shopify, args=(env, shop_id, ready, go, results)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=120)  # every interpreter has its app, engine and shop loaded
    go.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)

    assert outcomes == ["JPY"] * PROCESSES
    assert emulator.state.tokens.refresh_count[SHOP_A] == 1
