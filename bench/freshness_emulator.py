"""B2's Shopify: the emulator as an HTTP server that also places orders, sends their webhooks, and times
when each order's effect becomes visible in the customer's metafields.

    python -m bench.freshness_emulator --shop S --customers 1000 --plan plus
Prints one JSON line {"port", "grant"} once listening, then reads JSON commands from stdin, one a line:
    {"cmd": "phase", "name": "steady", "rate": 20, "count": 1200, "url": "http://app/webhooks", "wait": 300}
    {"cmd": "plan", "plan": "standard"}        {"cmd": "stop"}
and answers each with one JSON line. An order is visible when the customer's `purchase_count` metafield
first reaches the number of orders that customer has placed so far (a coalesced write covers several).
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import count

from werkzeug.serving import WSGIRequestHandler, make_server

from bench.database import BENCH_KEY, BENCH_SECRET
from emulator.cost import PLAN_RESTORE_RATES
from emulator.demo_catalog import STORES
from emulator.demo_data import DemoSpec, iter_customers
from emulator.demo_orders import build_order
from emulator.server import create_emulator
from emulator.state import EmulatorState
from emulator.webhook_sender import WebhookSender

WATCHED_KEY = "purchase_count"


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):  # one line per Admin API call otherwise
        pass


class Visibility:
    """Per customer: orders waiting to show (expected count, order index) and when each showed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.placed: dict[int, int] = {}  # customer id -> orders placed so far
        self.waiting: dict[int, list[tuple[int, int]]] = {}
        self.seen_at: dict[int, float] = {}  # order index -> monotonic time visible
        self.value: dict[int, int] = {}

    def expect(self, customer_id: int, index: int) -> None:
        with self.lock:
            n = self.placed.get(customer_id, 0) + 1
            self.placed[customer_id] = n
            bisect.insort(self.waiting.setdefault(customer_id, []), (n, index))

    def written(self, customer_id: int, value: int) -> None:
        now = time.monotonic()
        with self.lock:
            self.value[customer_id] = max(value, self.value.get(customer_id, 0))
            queue = self.waiting.get(customer_id)
            while queue and queue[0][0] <= value:
                _, index = queue.pop(0)
                self.seen_at[index] = now

    def open(self, indices: range) -> int:
        with self.lock:
            return sum(1 for i in indices if i not in self.seen_at)


def watch_metafields(shop, visibility: Visibility) -> None:
    """Wrap the shop's metafield store: every write of purchase_count is timed as it happens."""
    real = shop.write_metafield

    def write_metafield(owner, namespace, key, mtype, value):
        record = real(owner, namespace, key, mtype, value)
        if key == WATCHED_KEY and owner.startswith("gid://shopify/Customer/"):
            visibility.written(int(owner.rsplit("/", 1)[1]), int(value))
        return record

    shop.write_metafield = write_metafield


class Shopper:
    """Places demo-shaped orders for the seeded customers and delivers orders/create over HTTP."""

    def __init__(self, state: EmulatorState, domain: str, spec: DemoSpec, customers: list[dict]) -> None:
        self.state, self.domain, self.spec, self.customers = state, domain, spec, customers
        self.shop = state.shops[domain]
        self.rng = random.Random(2)
        self.numbers = count(1001)
        self.visibility = Visibility()
        self.sent_at: dict[int, float] = {}
        self.failures = 0
        self.orders_placed = 0
        self.lock = threading.Lock()
        watch_metafields(self.shop, self.visibility)

    def place(self, index: int, sender: WebhookSender, customer: dict) -> None:
        with self.lock:
            pos = self.rng.random() < 0.5
            store = self.rng.choice(STORES) if pos else None
            order = build_order(self.spec, self.rng, next(self.numbers), datetime.now(UTC), store, customer)
            with self.state.lock:
                self.shop.add_order(order)
            self.visibility.expect(customer["id"], index)
        self.sent_at[index] = time.monotonic()
        if sender.send(self.domain, "orders/create", order).outcome != "delivered":
            self.failures += 1

    def phase(self, rate: float, total: int, url: str, wait: float, every_customer: bool) -> dict:
        sender = WebhookSender(BENCH_SECRET, url, max_retries=0)
        indices = range(self.orders_placed, self.orders_placed + total)
        self.orders_placed += total
        throttled_before = self.shop.throttled_count
        calls_before = self.shop.graphql_calls
        start = time.monotonic() + 0.2
        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = []
            for i, index in enumerate(indices):
                customer = (
                    self.customers[i % len(self.customers)]
                    if every_customer
                    else (self.rng.choice(self.customers))
                )
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self.place, index, sender, customer))
            for future in futures:
                future.result()
        sent_done = time.monotonic()
        deadline = sent_done + wait
        while self.visibility.open(indices) and time.monotonic() < deadline:
            time.sleep(0.05)
        latencies = [
            self.visibility.seen_at[i] - self.sent_at[i] for i in indices if i in self.visibility.seen_at
        ]
        last_seen = max((self.visibility.seen_at.get(i, 0.0) for i in indices), default=sent_done)
        return {
            "sent": total,
            "visible": len(latencies),
            "send_seconds": sent_done - start,
            "drain_seconds": max(0.0, last_seen - sent_done) if len(latencies) == total else None,
            "latencies_s": latencies,
            "webhook_failures": self.failures,
            "throttled_responses": self.shop.throttled_count - throttled_before,
            "graphql_calls": self.shop.graphql_calls - calls_before,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-fresh.myshopify.com")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--plan", default="plus")
    args = parser.parse_args(argv)
    state = EmulatorState(BENCH_KEY, BENCH_SECRET)
    shop = state.install_shop(args.shop, plan=args.plan)
    spec = DemoSpec().scaled(args.customers / DemoSpec().customers)
    for store in STORES:
        shop.add_location(store.name, id=store.id)
    customers = [shop.add_customer(**c) for c in iter_customers(spec)]
    grant = state.tokens.issue_offline(args.shop, set(state.config.scopes), expiring=False)
    server = make_server("127.0.0.1", 0, create_emulator(state), threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shopper = Shopper(state, args.shop, spec, customers)
    print(
        json.dumps(
            {
                "port": server.server_port,
                "grant": grant,
                "customers": len(customers),
                "first_customer": customers[0]["id"],
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "stop":
            break
        if command["cmd"] == "plan":
            shop.plan = command["plan"]
            shop.bucket.restore_rate = PLAN_RESTORE_RATES[command["plan"]]
            answer: dict = {"plan": shop.plan, "restore_rate": shop.bucket.restore_rate}
        elif command["cmd"] == "phase":
            answer = shopper.phase(
                command["rate"],
                command["count"],
                command["url"],
                command.get("wait", 300.0),
                command.get("every_customer", False),
            )
            answer["name"] = command["name"]
        else:
            answer = {"error": f"unknown command {command['cmd']!r}"}
        print(json.dumps(answer), flush=True)
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
