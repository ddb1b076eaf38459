"""B4 backfill: bulk JSONL of the demo retailer streamed into the ledger and history, vs merely parsing it.

Goal (1,000,000 orders + 100,000 customers into PostgreSQL): <= 10 min on 2 cores, importer peak RSS <= 1 GB,
<= 20x the time of parsing the same JSONL. Both runs are separate processes reading the same files over the
same loopback HTTP stream; the apply run is the app's own `backfill.consume` (set-based ingest per chunk),
in slices of 5,000 lines as `flask backfill run` drives it, to the end. The ledger is checked afterwards:
every customer order credited once (purchases = orders - orders without a customer, points issued = points
earned). TSUNAGU_B4_SAMPLE_SECONDS (per file) time-boxes the apply run instead; the total is then projected
from the measured rates and the table says so.

B4demo: the demo's own size (20,000 orders, 2,000 customers) into SQLite as `make demo` stores it, goal
<= 60 s from the first line to history complete, against parsing the same files in the same run.

    python -m bench --only B4 [--full]     both figures
    python -m bench.backfill_throughput --demo [--profile out.prof]   the demo figure alone
"""

from __future__ import annotations

import argparse
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
DEMO_ORDERS = 20_000
SAMPLE_SECONDS = float(os.environ.get("TSUNAGU_B4_SAMPLE_SECONDS", "0"))  # 0: to the end
GOAL_SECONDS = 600.0
GOAL_RSS_MB = 1024.0
GOAL_RATIO = 20.0
DEMO_GOAL_SECONDS = 60.0
CACHE = Path(os.environ.get("TSUNAGU_BENCH_CACHE", Path(tempfile.gettempdir()) / "tsunagu-bench"))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a slice that stops reading mid-file resets the connection: expected, not news


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """A loopback HTTP server for the result files (Shopify serves them from a signed storage URL)."""
    server = _Server(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def child(
    mode: str, base: str, files: BulkFiles, env: dict[str, str], budget: float = 0.0, profile: str = ""
) -> dict:
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
        *(["--profile", profile] if profile else []),
    ]
    # stderr passes through: the child's progress lines show while it runs.
    done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"backfill_child {mode} failed (exit {done.returncode}; its stderr is above)")
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
    compared = check_against_emulator()
    print(f"  B4 bulk rows equal the emulator's export ({compared} rows compared)", flush=True)
    return run_size(FULL_ORDERS if full else QUICK_ORDERS, SAMPLE_SECONDS) + run_demo()


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    """A fresh SQLite file with the schema, as the demo keeps its data."""
    from bench.database import create_schema

    with tempfile.TemporaryDirectory(prefix="tsunagu-b4demo-") as tmp:
        url = f"sqlite:///{tmp}/demo.sqlite3"
        create_schema(url)
        yield url


def run_demo(profile: str = "") -> list[Figure]:
    """The demo's history (20,000 orders, 2,000 customers) into SQLite, against parsing it."""
    files = write_files(DEMO_ORDERS, CACHE)
    with serve(CACHE) as base:
        parsed = child("parse", base, files, dict(os.environ))
        parse_s = sum(parsed["seconds"])
        with sqlite_database() as db_url:
            applied = child("apply", base, files, app_env(db_url), profile=profile)
            check = ledger_check(db_url)
    apply_s = sum(applied["seconds"])
    expected = files.order_rows - files.walk_ins
    correct = check["issued"] == check["earned"] and check["purchases"] == expected
    print(
        f"  B4demo: {files.customer_rows} customers in {applied['seconds'][0]:.1f} s, "
        f"{files.order_rows} orders in {applied['seconds'][1]:.1f} s on SQLite "
        f"(parse only {parse_s:.1f} s); {check}",
        flush=True,
    )
    return [
        Figure(
            "B4demo",
            f"demo history into SQLite ({files.order_rows:,} orders + {files.customer_rows:,} customers)",
            apply_s,
            "s",
            parse_s,
            "parse only",
            f"<= {DEMO_GOAL_SECONDS:.0f} s",
            apply_s <= DEMO_GOAL_SECONDS and correct,
            note=f"{check['purchases']} purchases for {expected} customer orders, "
            f"{check['issued']} points issued for {check['earned']} earned; "
            f"peak RSS {applied['max_rss_mb']:.0f} MB",
            extra={"parse": parsed, "apply": applied, "check": check},
        )
    ]


def run_size(orders: int, budget: float) -> list[Figure]:
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
            + ("" if orders >= FULL_ORDERS else "; smaller size: time goal pro rata of 10 min per 1M"),
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
            note=f"VmHWM; getrusage ru_maxrss {applied['ru_maxrss_mb']:.0f} MB"
            + ("" if complete else "; peak over the sampled import only"),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo", action="store_true", help="only the demo figure (SQLite, 20,000 orders)")
    parser.add_argument("--orders", type=int, default=QUICK_ORDERS, help="size of the PostgreSQL run")
    parser.add_argument("--profile", default="", help="cProfile the demo's apply run into this file")
    args = parser.parse_args(argv)
    figures = run_demo(args.profile) if args.demo else run_size(args.orders, SAMPLE_SECONDS)
    for figure in figures:
        print(json.dumps({k: v for k, v in figure.__dict__.items() if k != "extra"}, default=str))
    return 0 if all(f.passed is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
