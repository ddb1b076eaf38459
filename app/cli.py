"""Flask commands for operators: worker, replay, inbox, reconcile."""

from __future__ import annotations

import signal

import click
from flask import Flask, current_app

from app.extensions import db


def register_cli(app: Flask) -> None:
    """Attach the operator commands to `flask`."""

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Process what is due, then exit.")
    @click.option("--idle-sleep", type=float, default=None, help="Seconds to wait when nothing is due.")
    @click.option("--lease-seconds", type=float, default=None, help="How long a claimed row stays ours.")
    @click.option("--batch-size", type=int, default=None, help="Rows claimed at a time.")
    @click.option("--max-attempts", type=int, default=None, help="Tries before a row is dead-lettered.")
    @click.option("--no-reconcile", is_flag=True, help="Do not run reconciliation when it is due.")
    def worker(
        once: bool,
        idle_sleep: float | None,
        lease_seconds: float | None,
        batch_size: int | None,
        max_attempts: int | None,
        no_reconcile: bool,
    ) -> None:
        """Process the webhook inbox until SIGTERM (the current row is finished first)."""
        from dataclasses import replace

        from app.services.worker import Worker, WorkerConfig

        config = WorkerConfig.from_app(
            current_app, idle_sleep=idle_sleep, lease_seconds=lease_seconds, batch_size=batch_size
        )
        if max_attempts is not None:
            config = replace(config, retry=replace(config.retry, max_attempts=max_attempts))
        periodic = None
        if not no_reconcile and not once:
            from app.integrations.periodic import run_due as store_run_due
            from app.services.dashboard_jobs import run_due as dashboard_run_due
            from app.services.reconcile import run_due
            from app.services.upkeep import run_due as upkeep_run_due

            def periodic() -> None:
                # issue 8's store side (LINE outbox, Smaregi pull) first: it contains one shop's failure.
                store_run_due()
                run_due()
                # Daily per shop: pending points mature, lots expire, rolling ranks move as sales age out.
                upkeep_run_due()
                # Month-end closes and the dashboard's home summaries.
                dashboard_run_due()

        loop = Worker(current_app._get_current_object(), config, periodic=periodic)  # type: ignore[attr-defined]

        def stop(signum, frame):  # SIGTERM/SIGINT: finish the current row, then leave
            loop.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo(f"worker {loop.worker_id}: started")
        handled = loop.run(once=once)
        click.echo(f"worker {loop.worker_id}: stopped after {handled} rows")

    @app.cli.command("replay")
    @click.argument("inbox_id", type=int)
    def replay(inbox_id: int) -> None:
        """Queue one inbox row again (e.g. a dead-lettered one after a fix)."""
        from app.services.inbox import ReplayRefused
        from app.services.inbox import replay as replay_row

        try:
            row = replay_row(db.session, inbox_id)
        except ReplayRefused as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"inbox row {row.id} ({row.topic}, {row.shop_domain}) is pending again")

    @app.cli.command("inbox")
    @click.option("--dead", "show_dead", is_flag=True, help="List dead-lettered rows with their reasons.")
    def inbox_counts(show_dead: bool) -> None:
        """Inbox rows by state, and leases that expired (a worker died)."""
        from sqlalchemy import select

        from app.models.inbox import DEAD, InboxEvent
        from app.services.inbox import counts, expired_leases

        for status, count in counts(db.session).items():
            click.echo(f"{status:<11}{count}")
        click.echo(f"{'expired':<11}{expired_leases(db.session)}  (processing, lease ran out)")
        if show_dead:
            rows = db.session.execute(
                select(InboxEvent).where(InboxEvent.status == DEAD).order_by(InboxEvent.id)
            ).scalars()
            for row in rows:
                click.echo(f"{row.id}\t{row.topic}\t{row.shop_domain}\t{row.attempts}\t{row.last_error}")

    @app.cli.command("reconcile")
    @click.option("--shop", "shop_domain", default=None, help="Only this shop (x.myshopify.com).")
    def reconcile(shop_domain: str | None) -> None:
        """Pull orders updated since each shop's watermark and check webhook subscriptions, once."""
        from app.services.reconcile import reconcile_all

        for result in reconcile_all(db.session, shop_domain=shop_domain):
            click.echo(
                f"{result.shop_domain}: {result.orders_seen} orders seen, {result.recorded} new, "
                f"webhooks missing: {', '.join(result.webhooks_missing) or 'none'}"
            )
