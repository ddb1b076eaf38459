"""Run the Shopify emulator as a local server: `python -m emulator --port 9292 --seed-demo ...`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.serving import run_simple

from emulator.demo_data import DemoSpec, load_into
from emulator.oauth import load_app_toml
from emulator.server import create_emulator, emulator_of
from emulator.state import EmulatorState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (API credentials default to SHOPIFY_API_KEY / SHOPIFY_API_SECRET)."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9292)
    parser.add_argument("--api-key", default=os.environ.get("SHOPIFY_API_KEY", "test-api-key"))
    parser.add_argument("--api-secret", default=os.environ.get("SHOPIFY_API_SECRET", "test-api-secret"))
    parser.add_argument("--app-url", default=os.environ.get("APP_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--shop", default="demo.myshopify.com")
    parser.add_argument("--plan", default="standard", choices=["standard", "advanced", "plus", "enterprise"])
    parser.add_argument("--seed-demo", action="store_true", help="load the demo retailer into the shop")
    parser.add_argument("--customers", type=int, default=2000, help="demo customers (orders scale with them)")
    parser.add_argument(
        "--demo-end",
        type=datetime.fromisoformat,
        default=None,
        help="ISO moment the demo history ends (default: now); a test seeding its own copy passes its end",
    )
    parser.add_argument(
        "--webhook-url", default=None, help="where to deliver webhooks, e.g. APP_URL/webhooks"
    )
    parser.add_argument(
        "--webhook-time-scale",
        type=float,
        default=1.0,
        help="compress Shopify's 4-hour retry schedule (e.g. 0.01)",
    )
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """The emulator app with the shop installed and, if asked, the demo data loaded."""
    state = EmulatorState(args.api_key, args.api_secret)
    shop = state.install_shop(args.shop, plan=args.plan, name="つなぐデモストア")
    app = create_emulator(
        state,
        app_url=args.app_url,
        webhook_target=args.webhook_url,
        webhook_time_scale=args.webhook_time_scale,
    )
    if args.seed_demo:
        # The history ends now in the shop's time zone (never in the future), so "last 30 days" segments,
        # rolling ranks and today's store sales have something to show.
        spec = DemoSpec.ending_now(ZoneInfo(shop.timezone), now=args.demo_end)
        started = time.monotonic()
        summary = load_into(state, args.shop, scale=args.customers / spec.customers, spec=spec)
        print(
            f"demo data: {summary.customers} customers, {summary.orders} orders "
            f"({summary.pos_orders} POS, {summary.walk_ins} walk-ins), {summary.refunds} refunds "
            f"in {time.monotonic() - started:.1f}s",
            flush=True,
        )
    return app


def main(argv: list[str] | None = None) -> int:
    """Start the server and print where the admin stand-in is."""
    args = parse_args(argv)
    app = build(args)
    sender = emulator_of(app).webhooks
    if sender is not None:
        sender.start()
    origin = f"http://{args.host}:{args.port}"
    handle = args.shop.removesuffix(".myshopify.com")
    print(f"Shopify emulator on {origin} (SHOPIFY_ADMIN_ORIGIN={origin})", flush=True)
    app_handle = load_app_toml().get("handle", "tsunagu")
    print(f"Admin stand-in: {origin}/store/{handle}/apps/{app_handle}", flush=True)
    try:
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    finally:
        if sender is not None:
            sender.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
