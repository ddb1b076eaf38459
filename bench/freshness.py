"""B2 freshness: sale webhook -> metafield visible in Shopify, with every part a real process.

The emulator (bench/freshness_emulator.py, an HTTP server) places orders and sends their signed
orders/create webhooks to the app under gunicorn; two `flask worker` processes credit them on PostgreSQL;
`flask sync` writes the metafields back through the Admin API, paced by the
shop's bucket. Phases: warm-up on a Plus bucket (every customer becomes a synced member, as after the install
backfill), then a Standard-plan bucket (100 points/s) for a steady 20 orders/s and a flash sale.
Baseline: the bare round-trip of one metafieldsSet call to the same emulator, measured in the same run.

Goals: steady p95 <= 0.5 s; flash sale of 5,000 orders in 3 minutes drained within 3 minutes after the
burst with zero unhandled THROTTLED.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.common import Figure, summary
from bench.database import app_env, bench_database
from bench.servers import ROOT, gunicorn

SHOP = "bench-fresh.myshopify.com"
ROUNDTRIP_CALLS = 40
SET_ONE = """mutation($m: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $m) { metafields { key } userErrors { field message code } }
}"""


class Emulator:
    """The emulator process: JSON commands in, JSON answers out."""

    def __init__(self, customers: int, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.freshness_emulator", "--shop", SHOP, "--customers", str(customers)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.hello = self.read()
        self.origin = f"http://127.0.0.1:{self.hello['port']}"

    def read(self) -> dict:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError("the emulator process ended")
        return json.loads(line)

    def ask(self, **command) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ask(cmd="stop")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.proc.kill()


@contextlib.contextmanager
def processes(commands: list[list[str]], env: dict[str, str], logs: Path) -> Iterator[list[subprocess.Popen]]:
    """Background processes that get SIGTERM (and time to finish) when the block ends."""
    procs = []
    try:
        for i, cmd in enumerate(commands):
            log = (logs / f"proc{i}.log").open("ab")
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def install_shop(db_url: str, grant: dict) -> None:
    """The app's side of the install: shop row (Standard plan), the emulator's token, backfill done.

    The install backfill is recorded as finished (B4 measures it): run by `flask sync` while live webhooks
    create the same members, it crashed the syncer with a UniqueViolation on members (reported, issue 6).
    """
    from app import create_app
    from app.config import load_settings
    from app.extensions import db
    from app.models.shop_jobs import BackfillJob
    from app.shopify.tokens import TokenGrant
    from app.shops.installs import complete_install

    app = create_app(load_settings(app_env(db_url)))
    with app.app_context():
        shop = complete_install(db.session, SHOP, TokenGrant.from_response(grant))
        shop.plan = "standard"
        for kind in ("customers", "orders"):
            db.session.add(BackfillJob(shop_id=shop.id, kind=kind, status="done", total=0, detail={}))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def roundtrip(origin: str, token: str, customer_id: int) -> list[float]:
    """The baseline: one metafieldsSet of one metafield, answered, as seen from another process."""
    variables = {
        "m": [
            {
                "ownerId": f"gid://shopify/Customer/{customer_id}",
                "namespace": "$app",
                "key": "line_linked",
                "type": "boolean",
                "value": "false",
            }
        ]
    }
    out = []
    with httpx.Client(timeout=30) as http:
        for _ in range(ROUNDTRIP_CALLS):
            started = time.perf_counter()
            response = http.post(
                f"{origin}/admin/api/2026-07/graphql.json",
                json={"query": SET_ONE, "variables": variables},
                headers={"Host": SHOP, "X-Shopify-Access-Token": token},
            )
            response.raise_for_status()
            assert not response.json().get("errors"), response.text
            out.append(time.perf_counter() - started)
            time.sleep(0.05)
    return out


def run(full: bool = False) -> list[Figure]:
    customers = 1000 if full else 300
    steady_seconds = 60 if full else 20
    flash_orders, flash_seconds = (5000, 180.0) if full else (1000, 36.0)
    results: dict[str, dict] = {}
    with bench_database() as db_url, tempfile.TemporaryDirectory() as tmp:
        emulator = Emulator(customers, app_env(db_url))
        try:
            grant = emulator.hello["grant"]
            install_shop(db_url, grant)
            env = app_env(db_url, SHOPIFY_ADMIN_ORIGIN=emulator.origin)
            flask = [sys.executable, "-m", "flask"]
            # The Procfile's worker and `flask sync` with their defaults (woken by NOTIFY, 1 s fallback
            # poll); the worker's reconciliation is off: it would call the emulator on its own schedule.
            commands = [[*flask, "worker", "--no-reconcile"] for _ in range(2)]
            commands.append([*flask, "sync"])
            with gunicorn("app:create_app()", env) as app_url, processes(commands, env, Path(tmp)):
                hook = app_url + "/webhooks"
                results["warmup"] = emulator.ask(
                    cmd="phase",
                    name="warmup",
                    rate=25,
                    count=customers,
                    url=hook,
                    wait=600,
                    every_customer=True,
                )
                results["warmup"]["worker_lag"], last_id = worker_lag(db_url, 0)
                print(f"  B2 warm-up: {brief(results['warmup'])}", flush=True)
                base = roundtrip(emulator.origin, grant["access_token"], emulator.hello["first_customer"])
                print(f"  B2 bare metafieldsSet round-trip: {fmt(summary(base))}", flush=True)
                emulator.ask(cmd="plan", plan="standard")
                time.sleep(20)  # the bucket refills to its maximum at 100 points/s
                results["steady"] = emulator.ask(
                    cmd="phase", name="steady", rate=20, count=20 * steady_seconds, url=hook, wait=300
                )
                results["steady"]["worker_lag"], last_id = worker_lag(db_url, last_id)
                print(f"  B2 steady 20/s: {brief(results['steady'])}", flush=True)
                time.sleep(20)
                results["flash"] = emulator.ask(
                    cmd="phase",
                    name="flash",
                    rate=flash_orders / flash_seconds,
                    count=flash_orders,
                    url=hook,
                    wait=600,
                )
                results["flash"]["worker_lag"], last_id = worker_lag(db_url, last_id)
                print(f"  B2 flash sale: {brief(results['flash'])}", flush=True)
        finally:
            emulator.close()
        syncer = syncer_stats(Path(tmp) / "proc2.log")
        print(f"  B2 syncer: {syncer}", flush=True)
    return figures(results, base, syncer, steady_seconds, flash_orders, flash_seconds)


def worker_lag(db_url: str, after_id: int) -> tuple[dict, int]:
    """Inbox received -> processed (the worker's share of the latency) for rows after `after_id`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, EXTRACT(EPOCH FROM processed_at - received_at) FROM inbox_events "
                "WHERE id > :after AND processed_at IS NOT NULL"
            ),
            {"after": after_id},
        ).all()
    engine.dispose()
    lags = [float(lag) for _, lag in rows]
    return summary(lags), max([after_id, *(i for i, _ in rows)])


def syncer_stats(log: Path) -> dict:
    """What `flask sync` reported: passes that failed, and those that failed on THROTTLED (unhandled)."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    failed = [line for line in lines if "error=" in line and "error=None" not in line]
    return {
        "failed_passes": len(failed),
        "unhandled_throttled": sum("ShopifyThrottled" in line for line in failed),
        "errors": sorted({line.split("error=", 1)[1][:120] for line in failed})[:5],
    }


def fmt(s: dict) -> str:
    return f"p50 {s['p50'] * 1000:.0f} ms, p95 {s['p95'] * 1000:.0f} ms, max {s['max'] * 1000:.0f} ms"


def brief(phase: dict) -> str:
    lat = summary(phase["latencies_s"])
    return (
        f"{phase['visible']}/{phase['sent']} visible, {fmt(lat)}, sent in {phase['send_seconds']:.1f} s, "
        f"drained {phase['drain_seconds']} s after, {phase['throttled_responses']} THROTTLED, "
        f"{phase['webhook_failures']} webhook failures; worker lag (inbox received -> processed) "
        f"p50 {phase['worker_lag']['p50']:.2f} s, p95 {phase['worker_lag']['p95']:.2f} s"
    )


def figures(
    results: dict,
    base: list[float],
    syncer: dict,
    steady_seconds: int,
    flash_orders: int,
    flash_seconds: float,
) -> list[Figure]:
    base_s = summary(base)
    steady, flash = results["steady"], results["flash"]
    steady_s = summary(steady["latencies_s"])
    complete = steady["visible"] == steady["sent"] and steady["webhook_failures"] == 0
    drain = flash["drain_seconds"]
    unhandled = syncer.get("unhandled_throttled", 0)
    return [
        Figure(
            "B2",
            f"freshness p95, steady 20 orders/s ({steady_seconds} s, Standard bucket)",
            steady_s["p95"],
            "s",
            base_s["p95"],
            "bare metafieldsSet",
            "<= 0.5 s",
            complete and steady_s["p95"] <= 0.5,
            note=(
                f"p50 {steady_s['p50']:.2f} s, max {steady_s['max']:.2f} s; worker lag p95 "
                f"{steady['worker_lag']['p95']:.2f} s; "
                f"{steady['visible']}/{steady['sent']} visible; "
                f"{steady['throttled_responses']} THROTTLED answers"
            ),
            extra={"steady": steady_s, "baseline": base_s},
        ),
        Figure(
            "B2",
            f"flash sale {flash_orders:,} orders in {flash_seconds:.0f} s: drained after burst",
            drain if drain is not None else float("inf"),
            "s",
            flash["send_seconds"],
            "burst length",
            "<= 180 s, 0 unhandled THROTTLED",
            drain is not None and drain <= 180.0 and unhandled == 0,
            note=(
                f"{flash['visible']}/{flash['sent']} visible; {unhandled} unhandled THROTTLED, "
                f"{flash['throttled_responses']} THROTTLED answers; syncer {syncer}"
            ),
            extra={"flash": summary(flash["latencies_s"])},
        ),
    ]
