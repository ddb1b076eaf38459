"""Admin API faults (20 % THROTTLED, 2 % 5xx, 3 s latency on every call): the metafields still converge to the
database's projection, and only the faults' own retries are spent.

The emulator is wrapped in two fault layers: the inner one answers THROTTLED (a truly drained bucket) or a
502, the outer one delays every call by 3 s on the test's clock (the syncer's pacer and the emulator's bucket
share that clock, so the latency is felt without the test waiting for it).
"""

from __future__ import annotations

from flask import Flask

from app.shopify.errors import ShopifyError
from app.sync.syncer import dirty_members, shop_today, sync_shop
from emulator.faults import FaultInjector
from emulator.graphql_view import create_graphql_blueprint
from emulator.inspect_api import create_inspect_blueprint
from emulator.transport import emulator_transport
from tests.integration.sync.conftest import assert_shopify_matches_db
from tests.reliability.books import books_balance
from tests.reliability.conftest import size

MAX_PASSES = 60


def faulty_emulator(world) -> tuple[Flask, FaultInjector]:
    wsgi = Flask("faulty-emulator")
    wsgi.register_blueprint(create_graphql_blueprint(world.state))
    wsgi.register_blueprint(create_inspect_blueprint(world.state))
    inner = FaultInjector(wsgi.wsgi_app, world.state, seed=20)
    inner.add("throttled", ratio=0.20)
    inner.add("server_error", ratio=0.025, status=502)  # of the 80 % not throttled: 2 % of all calls
    outer = FaultInjector(inner, world.state, seed=21, sleep=world.clock.sleep)
    outer.add("slow", ratio=1.0, delay=3.0)
    wsgi.wsgi_app = outer  # type: ignore[method-assign]
    return wsgi, inner


def test_metafields_converge_under_throttling_errors_and_latency(world, app):
    wsgi, faults = faulty_emulator(world)
    app.config["SHOPIFY_TRANSPORT"] = emulator_transport(wsgi)
    customers = [world.customer() for _ in range(size(60, 300))]
    for round_ in range(2):
        for i, cid in enumerate(customers):
            world.buy(cid, str(1500 + 700 * ((i + round_) % 9)), pos=(i + round_) % 3 == 0, commit=False)
        world.session.commit()
    pacer = world.pacer()
    passes = failed = 0
    while passes < MAX_PASSES:
        passes += 1
        try:
            sync_shop(world.session, world.shop, world.client(), pacer, now=world.clock.utc)
        except ShopifyError:  # a pass that ran out of retries: the runner tries again next pass
            world.session.rollback()
            failed += 1
            continue
        if not dirty_members(world.session, world.shop, shop_today(world.shop, world.clock.utc()), 1):
            break
    fired = {kind: sum(1 for k, _, _ in faults.log if k == kind) for kind in ("throttled", "server_error")}
    print(f"\n{passes} passes ({failed} failed), faults fired {fired}, pacer throttled {pacer.throttled}")
    assert fired["throttled"] > 0 and fired["server_error"] > 0
    assert passes < MAX_PASSES
    assert world.remote.throttled_count == fired["throttled"]  # every THROTTLED was the injected one
    world.session.rollback()
    assert assert_shopify_matches_db(world) == len(customers)
    assert books_balance(world.session, world.shop.id) == len(customers)
