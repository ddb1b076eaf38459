"""B4 backfill: bulk JSONL of the demo retailer streamed into the ledger and history, vs merely parsing it.

Goal (1,000,000 orders): <= 10 min on 2 cores, peak RSS <= 1 GB, <= 5x the time of parsing the same JSONL.
Both runs are separate processes reading the same files over the same loopback HTTP stream; the apply run is
the app's own `backfill.consume` on PostgreSQL. The quick size runs to the end and the ledger is checked:
every customer order credited once (purchases = orders - orders without a customer, points issued = points
earned). The full size is time-boxed: each file is imported for SAMPLE_SECONDS (the whole 1,000,000 takes
hours at the rates measured so far), and the total is projected from the measured rates — the table says so.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.bulk_jsonl import BulkFiles, check_against_emulator, write_files
from bench.common import Figure
from bench.database import app_env, bench_database
from bench.servers import ROOT

FULL_ORDERS = 1_000_000
QUICK_ORDERS = 1_000
SAMPLE_SECONDS = float(os.environ.get("TSUNAGU_B4_SAMPLE_SECONDS", "150"))
GOAL_SECONDS = 600.0
GOAL_RSS_MB = 1024.0
GOAL_RATIO = 5.0
CACHE = Path(os.environ.get("TSUNAGU_BENCH_CACHE", Path(tempfile.gettempdir()) / "tsunagu-bench"))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """A loopback HTTP server for the result files (Shopify serves them from a signed storage URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def child(mode: str, base: str, files: BulkFiles, env: dict[str, str], budget: float = 0.0) -> dict:
    args = [
        sys.executable,
        "-m",
        "bench.backfill_child",
        "--mode",
        mode,
        "--customers-url",
        f"{base}/{files.customers.name}",
        "--orders-url",
        f"{base}/{files.orders.name}",
        "--customers-total",
        str(files.customer_rows),
        "--orders-total",
        str(files.order_rows),
        "--budget-seconds",
        str(budget),
    ]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"backfill_child {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def ledger_check(database_url: str) -> dict[str, int]:
    """What the database holds afterwards (purchases, earn transactions, points issued vs earned)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        purchases = conn.execute(text("SELECT count(*) FROM purchases")).scalar() or 0
        earned = conn.execute(text("SELECT coalesce(sum(points), 0) FROM purchases")).scalar() or 0
        issued = -(
            conn.execute(
                text("SELECT coalesce(sum(points), 0) FROM ledger_postings WHERE account = 'issued'")
            ).scalar()
            or 0
        )
        members = conn.execute(text("SELECT count(*) FROM members")).scalar() or 0
    engine.dispose()
    return {
        "purchases": int(purchases),
        "earned": int(earned),
        "issued": int(issued),
        "members": int(members),
    }


def run(full: bool = False) -> list[Figure]:
    orders = FULL_ORDERS if full else QUICK_ORDERS
    budget = SAMPLE_SECONDS if full else 0.0
    compared = check_against_emulator()
    print(f"  B4 bulk rows equal the emulator's export ({compared} rows compared)", flush=True)
    files = write_files(orders, CACHE)
    print(
        f"  B4 files: {files.customer_rows} customers, {files.order_rows} orders "
        f"({files.walk_ins} without a customer), {files.bytes / 1e6:.0f} MB in {CACHE}",
        flush=True,
    )
    with serve(CACHE) as base:
        parsed = child("parse", base, files, dict(os.environ))
        parse_s = sum(parsed["seconds"])
        print(f"  B4 parse only: {parse_s:.1f} s, RSS {parsed['max_rss_mb']:.0f} MB", flush=True)
        with bench_database() as db_url:
            applied = child("apply", base, files, app_env(db_url), budget)
            check = ledger_check(db_url)
    customers_job, orders_job = applied["jobs"]
    rows = (files.customer_rows, files.order_rows)
    rates = [
        job["lines"] / seconds if seconds > 0 else 0.0
        for job, seconds in zip(applied["jobs"], applied["seconds"], strict=True)
    ]
    complete = customers_job["status"] == "done" and orders_job["status"] == "done"
    if complete:
        apply_s = sum(applied["seconds"])
    else:  # time-boxed: what the whole import takes at the measured rates
        apply_s = sum(n / r if r > 0 else float("inf") for n, r in zip(rows, rates, strict=True))
    print(
        f"  B4 backfill: {customers_job['lines']} customers in {applied['seconds'][0]:.1f} s "
        f"({rates[0]:.0f}/s), {orders_job['lines']} orders in {applied['seconds'][1]:.1f} s "
        f"({rates[1]:.0f}/s), "
        f"RSS {applied['max_rss_mb']:.0f} MB; {'complete' if complete else 'sampled'}; {check}",
        flush=True,
    )
    once = check["issued"] == check["earned"]
    if complete:
        expected = files.order_rows - files.walk_ins
        correct = once and check["purchases"] == expected
        correctness = f"{check['purchases']} purchases for {expected} customer orders"
    else:
        correct = once
        correctness = f"{check['purchases']} purchases from the sampled {orders_job['lines']} orders"
    correctness += f", {check['issued']} points issued for {check['earned']} earned"
    label = f"{files.order_rows:,} orders + {files.customer_rows:,} customers"
    goal_s = GOAL_SECONDS * orders / FULL_ORDERS
    passed = apply_s <= goal_s and apply_s / parse_s <= GOAL_RATIO and correct if parse_s > 0 else False
    how = (
        "measured to the end"
        if complete
        else f"PROJECTED from {SAMPLE_SECONDS:.0f} s samples of each file at the measured rates"
    )
    return [
        Figure(
            "B4",
            f"backfill time ({label})",
            apply_s,
            "s",
            parse_s,
            "parse only",
            f"<= {goal_s:.0f} s and <= {GOAL_RATIO:.0f}x parse",
            passed,
            note=f"{how}; {rates[0]:,.0f} customers/s, {rates[1]:,.0f} orders/s; {correctness}"
            + ("" if full else "; quick size: time goal pro rata of 10 min per 1M"),
            extra={"parse": parsed, "apply": applied, "check": check, "files": dict(files.__dict__)},
        ),
        Figure(
            "B4",
            "backfill peak RSS",
            applied["max_rss_mb"],
            "MB",
            parsed["max_rss_mb"],
            "parse only",
            f"<= {GOAL_RSS_MB:.0f} MB",
            applied["max_rss_mb"] <= GOAL_RSS_MB,
            note="" if complete else "peak over the sampled import only",
        ),
    ]
