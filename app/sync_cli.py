"""Flask commands for the Shopify side: `flask sync` (the syncer loop), `flask backfill`, `flask segments`."""

from __future__ import annotations

import contextlib
import signal
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.models.shop import Shop
from app.models.sync import BackfillJob
from app.services import backfill as backfill_service
from app.services import freshness, leases, segments
from app.services.pacing import CostPacer
from app.services.sync_runner import run_pass
from app.services.wakeup import SYNC_CHANNEL, Wakeup
from app.shopify.client import AdminClient
from app.shopify.http import shopify_http_client

REDEMPTIONS_EVERY = 10.0  # seconds between checks of a shop's reward codes (used by an order, expired)


def _shops(domains: tuple[str, ...]) -> list[Shop]:
    query = select(Shop).where(Shop.status == "installed").order_by(Shop.id)
    if domains:
        query = query.where(Shop.domain.in_(domains))
    return list(db.session.scalars(query))


def _shop(domain: str) -> Shop:
    shop = db.session.scalar(select(Shop).where(Shop.domain == domain))
    if shop is None:
        raise click.ClickException(f"no shop {domain}")
    return shop


def register_sync_cli(app: Flask) -> None:
    """Attach `flask sync`, `flask backfill` and `flask segments`."""

    @app.cli.command("sync")
    @click.option(
        "--shop", "domains", multiple=True, help="Only these shops (default: every installed shop)."
    )
    @click.option("--once", is_flag=True, help="One pass over the shops, then exit.")
    @click.option("--interval", default=1.0, show_default=True, help="Seconds between passes when idle.")
    @click.option("-v", "--verbose", is_flag=True, help="Print what each pass did.")
    def sync_command(domains: tuple[str, ...], once: bool, interval: float, verbose: bool) -> None:
        """Keep Shopify's metafields, tags and segments up to date (run any number of these)."""
        stopping = False

        def stop(signum, frame):  # SIGTERM: finish the current shop, then leave
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        holder = leases.new_holder_id("syncer")
        pacers: dict[int, CostPacer] = {}  # one per shop, kept across passes: they learn the bucket level
        redeemed: dict[int, float] = {}  # when each shop's reward codes were last settled
        # Woken on PostgreSQL when a member's sync_version moves (members trigger); else polls.
        wakeup = Wakeup(db.engine, SYNC_CHANNEL)
        with shopify_http_client(current_app.config["SETTINGS"]) as http, contextlib.closing(wakeup):
            while not stopping:
                busy = False
                for shop in _shops(domains):
                    if stopping:
                        break
                    pacer = pacers.setdefault(shop.id, CostPacer.for_plan(shop.plan))
                    due = time.monotonic() - redeemed.get(shop.id, float("-inf")) >= REDEMPTIONS_EVERY
                    result = run_pass(
                        db.session,
                        shop,
                        AdminClient(shop, session=db.session),
                        pacer,
                        http,
                        holder=holder,
                        redemptions=due,
                    )
                    if due:
                        redeemed[shop.id] = time.monotonic()
                    busy = busy or bool(result.sync and any(result.sync.progress))
                    if verbose or result.error:
                        click.echo(f"{shop.domain}: {result}")
                db.session.remove()
                if once:
                    break
                if not busy:
                    wakeup.wait(interval)

    backfill = AppGroup("backfill", help="The install backfill of historical customers and orders.")

    @backfill.command("start")
    @click.option("--shop", "domain", required=True)
    def backfill_start(domain: str) -> None:
        """Start the bulk exports (once per shop; a failed one may be started again)."""
        shop = _shop(domain)
        with shopify_http_client(current_app.config["SETTINGS"]):
            jobs = backfill_service.start(
                db.session, shop, AdminClient(shop, session=db.session), CostPacer.for_plan(shop.plan)
            )
        for job in jobs:
            click.echo(backfill_service.progress(job))

    @backfill.command("run")
    @click.option("--shop", "domain", required=True)
    @click.option(
        "--poll", default=5.0, show_default=True, help="Seconds between checks while Shopify exports."
    )
    def backfill_run(domain: str, poll: float) -> None:
        """Drive the shop's backfill to the end (resumes where a killed run stopped)."""
        shop = _shop(domain)
        pacer = CostPacer.for_plan(shop.plan)
        with shopify_http_client(current_app.config["SETTINGS"]) as http:
            while True:
                jobs = backfill_service.advance(
                    db.session, shop, AdminClient(shop, session=db.session), pacer, http, max_lines=5_000
                )
                for job in jobs:
                    click.echo(backfill_service.progress(job))
                if not jobs:
                    break
                if all(j.status == "running" for j in jobs):
                    time.sleep(poll)

    @backfill.command("status")
    @click.option("--shop", "domain", required=True)
    def backfill_status(domain: str) -> None:
        """Progress of the shop's backfill jobs."""
        shop = _shop(domain)
        for job in db.session.scalars(
            select(BackfillJob).where(BackfillJob.shop_id == shop.id).order_by(BackfillJob.id)
        ):
            click.echo(backfill_service.progress(job))

    segment_group = AppGroup("segments", help="The shop's Shopify customer segments.")

    @segment_group.command("install")
    @click.option("--shop", "domain", required=True)
    def segments_install(domain: str) -> None:
        """Create the standard segments (idempotent)."""
        shop = _shop(domain)
        rows = segments.install_standard_segments(
            db.session, shop, AdminClient(shop, session=db.session), CostPacer.for_plan(shop.plan)
        )
        for row in rows:
            click.echo(f"{row.handle}: {row.status} {row.error or ''}")

    @segment_group.command("counts")
    @click.option("--shop", "domain", required=True)
    def segments_counts(domain: str) -> None:
        """Each segment's member count in Shopify next to the app's own count."""
        shop = _shop(domain)
        for c in segments.compare_counts(
            db.session, shop, AdminClient(shop, session=db.session), CostPacer.for_plan(shop.plan)
        ):
            click.echo(
                f"{c.handle}: shopify={c.shopify_count} app={c.app_count} {'ok' if c.agrees else 'DIFFERS'}"
            )

    @app.cli.command("freshness")
    @click.option("--shop", "domain", required=True)
    def freshness_command(domain: str) -> None:
        """Webhook-to-metafield latency over the last 24 hours (p50/p95)."""
        click.echo(freshness.latency_summary(db.session, _shop(domain).id))

    app.cli.add_command(backfill)
    app.cli.add_command(segment_group)
