"""Flask commands for the Shopify side: `flask sync` (the syncer), `backfill`, `segments`, `reconcile`."""

from __future__ import annotations

import contextlib
import logging
import signal
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.jobs import leases
from app.jobs.wakeup import SYNC_CHANNEL, Wakeup
from app.models.processes import beat
from app.models.shop import Shop, ShopStatus
from app.models.shop_jobs import BackfillJob, BackfillStatus
from app.shopify.client import AdminClient
from app.shopify.http import shopify_http_client
from app.shopify.pacing import CostPacer
from app.sync import backfill as backfill_service
from app.sync import freshness, segments
from app.sync.reconcile import reconcile_all
from app.sync.runner import PassResult, run_pass

REDEMPTIONS_EVERY = 10.0  # seconds between checks of a shop's reward codes (used by an order, expired)
PASS_BACKOFF_CAP = 30.0  # seconds: the longest pause after passes that failed (the database away)
log = logging.getLogger(__name__)


def _shops(domains: tuple[str, ...]) -> list[Shop]:
    query = select(Shop).where(Shop.status == ShopStatus.INSTALLED).order_by(Shop.id)
    if domains:
        query = query.where(Shop.domain.in_(domains))
    return list(db.session.scalars(query))


def _shop(domain: str) -> Shop:
    shop = db.session.scalar(select(Shop).where(Shop.domain == domain))
    if shop is None:
        raise click.ClickException(f"no shop {domain}")
    return shop


def init_app(app: Flask) -> None:
    """Attach the Shopify-side commands to `flask`."""
    for command in (sync_command, freshness_command, reconcile_command, backfill, segment_group):
        app.cli.add_command(command)


@click.command("sync")
@click.option("--shop", "domains", multiple=True, help="Only these shops (default: every installed shop).")
@click.option("--once", is_flag=True, help="One pass over the shops, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between passes when idle.")
@click.option("-v", "--verbose", is_flag=True, help="Print what each pass did.")
@with_appcontext
def sync_command(domains: tuple[str, ...], once: bool, interval: float, verbose: bool) -> None:
    """Keep Shopify's metafields, tags and segments up to date (run any number of these)."""
    syncer = _Syncer(domains, verbose)
    signal.signal(signal.SIGTERM, syncer.stop)  # SIGTERM: finish the current shop, then leave
    # Woken on PostgreSQL when a member's sync_version moves (members trigger); else polls.
    wakeup = Wakeup(db.engine, SYNC_CHANNEL)
    with shopify_http_client(current_app.config["SETTINGS"]) as http, contextlib.closing(wakeup):
        while not syncer.stopping:
            busy = syncer.guarded_pass(http, interval)
            if once:
                break
            if not busy:
                wakeup.wait(interval)


class _Syncer:
    """The syncer process's state across passes: its lease holder id, a pacer per shop, reward-code timing."""

    def __init__(self, domains: tuple[str, ...], verbose: bool) -> None:
        self.domains = domains
        self.verbose = verbose
        self.stopping = False
        self.holder = leases.new_holder_id("syncer")
        self.pacers: dict[int, CostPacer] = {}  # kept across passes: they learn the bucket level
        self.redeemed: dict[int, float] = {}  # when each shop's reward codes were last settled
        self.failed_passes = 0  # passes in a row that raised (the pause before the next one grows)

    def stop(self, signum=None, frame=None) -> None:
        self.stopping = True

    def guarded_pass(self, http, interval: float) -> bool:
        """`one_pass`, surviving anything it raises (the database away, a bug outside any task): logged by
        exception type, then a growing pause (up to PASS_BACKOFF_CAP) before the next pass."""
        try:
            busy = self.one_pass(http)
            self.failed_passes = 0
            return busy
        except Exception as exc:
            self.failed_passes += 1
            pause = min(PASS_BACKOFF_CAP, interval * 2 ** min(self.failed_passes, 10))
            log.warning("sync pass failed: %s; next pass in %.1f s", type(exc).__name__, pause)
            time.sleep(pause)
            return False
        finally:
            with contextlib.suppress(Exception):  # a connection lost with the database is dropped here
                db.session.remove()

    def one_pass(self, http) -> bool:
        """One pass over the shops; True when some shop still had work in hand."""
        busy = False
        beat(db.session, "syncer", self.holder)  # at most every few seconds (/readyz, /metrics), shops or not
        for shop in _shops(self.domains):
            if self.stopping:
                break
            beat(db.session, "syncer", self.holder)  # a long pass over many shops still beats
            shop_id, domain = shop.id, shop.domain
            try:
                result = self._shop_pass(shop, http)
            except Exception as exc:  # one shop's pass cannot stop the others'
                with contextlib.suppress(Exception):
                    db.session.rollback()
                log.warning("sync pass for shop %s failed: %s", shop_id, type(exc).__name__)
                click.echo(f"{domain}: pass failed ({type(exc).__name__})")
                continue
            busy = busy or bool(result.sync and any(result.sync.progress))
            if self.verbose or result.error:
                click.echo(f"{shop.domain}: {result}")
        return busy

    def _shop_pass(self, shop: Shop, http) -> PassResult:
        pacer = self.pacers.setdefault(shop.id, CostPacer.for_plan(shop.plan))
        due = time.monotonic() - self.redeemed.get(shop.id, float("-inf")) >= REDEMPTIONS_EVERY
        client = AdminClient(shop, session=db.session)
        result = run_pass(db.session, shop, client, pacer, http, holder=self.holder, redemptions=due)
        if due:
            self.redeemed[shop.id] = time.monotonic()
        return result


@click.command("freshness")
@click.option("--shop", "domain", required=True)
@with_appcontext
def freshness_command(domain: str) -> None:
    """Webhook-to-metafield latency over the last 24 hours (p50/p95)."""
    click.echo(freshness.latency_summary(db.session, _shop(domain).id))


@click.command("reconcile")
@click.option("--shop", "shop_domain", default=None, help="Only this shop (x.myshopify.com).")
@with_appcontext
def reconcile_command(shop_domain: str | None) -> None:
    """Pull orders updated since each shop's watermark and check webhook subscriptions, once."""
    for result in reconcile_all(db.session, shop_domain=shop_domain):
        click.echo(
            f"{result.shop_domain}: {result.orders_seen} orders seen, {result.recorded} new, "
            f"webhooks missing: {', '.join(result.webhooks_missing) or 'none'}"
        )


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
@click.option("--poll", default=5.0, show_default=True, help="Seconds between checks while Shopify exports.")
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
                click.echo(progress_line(backfill_service.progress(job)), err=True)
            if not jobs:
                break
            if all(j.status == BackfillStatus.RUNNING for j in jobs):
                time.sleep(poll)


def progress_line(p: dict) -> str:
    """One progress line for people: N of M, rate, ETA (and the members replayed once the orders are in)."""
    done, total = p.get("done") or 0, p.get("total") or 0
    share = f" ({100 * done / total:.1f}%)" if total else ""
    line = f"{p['kind']}: {p['status']} {done:,} of {total:,}{share}"
    if p.get("rate_per_s"):
        line += f", {p['rate_per_s']:,.0f} lines/s"
    if p.get("eta_s"):
        minutes, seconds = divmod(int(p["eta_s"]), 60)
        line += f", ETA {minutes}m{seconds:02d}s"
    if p.get("replayed"):
        line += f", {p['replayed']:,} members replayed"
    if p.get("errors"):
        line += f", {p['errors']:,} rows skipped"
    return line


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
