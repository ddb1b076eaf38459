"""B3 API efficiency: metafields written per cost point, against the theoretical maximum and a naive writer.

Shopify takes at most 25 metafields per `metafieldsSet`, and the emulator (like Shopify) charges a mutation
10 points, so 2.5 metafields per point is the ceiling. Two shops in the same emulator get the same seeded
workload (members buying, some twice, a few refunds, in rounds with a sync after each): one is synced by the
app's syncer, the other by the same syncer with its packing replaced by one call per member — the naive
writer most apps ship. Only the steady-state rounds are measured; the first full sync of every member is
reported beside them. Goal: efficiency >= 0.9 of the ceiling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bench.common import Figure
from bench.database import BENCH_KEY, BENCH_SECRET, app_env, bench_database
from bench.sync_world import BenchShop, VirtualClock

SET = "metafields_set"
MAX_PER_CALL = 25
GOAL = 0.9


@contextlib.contextmanager
def one_call_per_member() -> Iterator[None]:
    """The naive writer: the syncer's own diff and confirmation, one call per member."""
    from app.sync import syncer as sync

    real = sync.pack

    def per_member(changes, limit=MAX_PER_CALL):
        return [[(c, item) for item in c.sets] for c in changes if c.sets]

    sync.pack = per_member
    try:
        yield
    finally:
        sync.pack = real


def measure(world: BenchShop, rounds: int) -> dict:
    """First sync, then `rounds` workload rounds each followed by a sync; points and writes per phase."""
    from app.sync.syncer import sync_shop

    pacer = world.pacer()
    out: dict = {}
    for phase in ["first", *[f"round{i}" for i in range(rounds)]]:
        if phase != "first":
            world.workload_round()
        client = world.client()
        report = sync_shop(world.session, world.shop, client, pacer, now=world.clock.utc)
        out[phase] = {
            "members": report.members,
            "metafields": report.metafields_written,
            "set_calls": client.calls[SET],
            "set_points": client.points[SET],
            "all_points": sum(client.points.values()),
            "calls": dict(client.calls),
        }
        print(f"  B3 {world.shop.domain.split('.')[0]:6s} {phase:7s} {out[phase]}", flush=True)
    return out


def totals(phases: dict, steady: bool = True) -> dict:
    keys = [k for k in phases if (k != "first") == steady]
    return {
        field: sum(phases[k][field] for k in keys)
        for field in ("metafields", "set_calls", "set_points", "all_points", "members")
    }


def efficiency(t: dict) -> float:
    """Metafields per point over the ceiling (25 per call at the per-call cost actually charged)."""
    if not t["set_calls"] or not t["set_points"]:
        return 0.0
    per_call = t["set_points"] / t["set_calls"]
    return (t["metafields"] / t["set_points"]) / (MAX_PER_CALL / per_call)


def run(full: bool = False) -> list[Figure]:
    from app import create_app
    from app.config import load_settings
    from app.extensions import db
    from emulator.server import create_emulator
    from emulator.state import EmulatorState
    from emulator.transport import emulator_transport

    members, rounds = (500, 3) if full else (150, 2)
    results = {}
    with bench_database() as db_url:
        app = create_app(load_settings(app_env(db_url)))
        clock = VirtualClock()
        state = EmulatorState(BENCH_KEY, BENCH_SECRET, clock=clock)
        app.config["SHOPIFY_TRANSPORT"] = emulator_transport(create_emulator(state))
        with app.app_context():
            for name, seed in (("packed", 3), ("naive", 3)):
                world = BenchShop.install(db.session, state, clock, f"{name}.myshopify.com", seed)
                world.add_customers(members)
                for cid in world.customers:
                    world.buy(cid, 3000, pos=world.rng.random() < 0.5)
                world.session.commit()
                writer = one_call_per_member() if name == "naive" else contextlib.nullcontext()
                with writer:
                    results[name] = measure(world, rounds)
            db.session.remove()
            db.engine.dispose()

    packed, naive = totals(results["packed"]), totals(results["naive"])
    first = totals(results["packed"], steady=False)
    packed_eff, naive_eff, first_eff = efficiency(packed), efficiency(naive), efficiency(first)
    per_point = packed["metafields"] / packed["set_points"] if packed["set_points"] else 0.0
    return [
        Figure(
            "B3",
            "metafields per point / ceiling",
            packed_eff,
            "",
            naive_eff,
            "one call per member",
            f">= {GOAL}",
            packed_eff >= GOAL,
            note=(
                f"{packed['metafields']:,} metafields in {packed['set_calls']} calls, "
                f"{packed['set_points']:.0f} points ({per_point:.2f}/point, ceiling 2.5); naive: "
                f"{naive['set_calls']} calls; first full sync: {first_eff:.2f}; "
                f"{members} members, {rounds} rounds"
            ),
            extra={"packed": results["packed"], "naive": results["naive"]},
        ),
        Figure(
            "B3",
            "metafields per point, all calls",
            packed["metafields"] / packed["all_points"] if packed["all_points"] else 0.0,
            "/pt",
            naive["metafields"] / naive["all_points"] if naive["all_points"] else None,
            "one call per member",
            "",
            None,
            note="includes tagsAdd/tagsRemove (rank and channel tags) and compareDigest re-reads",
        ),
    ]
