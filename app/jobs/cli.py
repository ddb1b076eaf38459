"""Flask commands for operators: `flask worker`, `replay`, `inbox`."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import replace

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.jobs.inbox import ReplayRefused, counts, expired_leases
from app.jobs.inbox import replay as replay_row
from app.jobs.worker import Handler, Worker, WorkerConfig
from app.models.inbox import InboxEvent, InboxStatus


def init_app(app: Flask, *, handle: Handler, periodic: Callable[[], None]) -> None:
    """Attach the operator commands; the worker runs `handle` per row and `periodic` between batches."""

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Process what is due, then exit.")
    @click.option("--idle-sleep", type=float, default=None, help="Seconds to wait when nothing is due.")
    @click.option("--lease-seconds", type=float, default=None, help="How long a claimed row stays ours.")
    @click.option("--batch-size", type=int, default=None, help="Rows claimed at a time.")
    @click.option("--max-attempts", type=int, default=None, help="Tries before a row is dead-lettered.")
    @click.option("--no-periodic", "--no-reconcile", is_flag=True, help="Do not run the scheduled jobs.")
    def worker(
        once: bool,
        idle_sleep: float | None,
        lease_seconds: float | None,
        batch_size: int | None,
        max_attempts: int | None,
        no_periodic: bool,
    ) -> None:
        """Process the webhook inbox until SIGTERM (the current row is finished first)."""
        config = WorkerConfig.from_settings(
            current_app.config["SETTINGS"],
            idle_sleep=idle_sleep,
            lease_seconds=lease_seconds,
            batch_size=batch_size,
        )
        if max_attempts is not None:
            config = replace(config, retry=replace(config.retry, max_attempts=max_attempts))
        scheduled = None if no_periodic or once else periodic
        app_object = current_app._get_current_object()  # type: ignore[attr-defined]  # the app behind the proxy
        loop = Worker(app_object, config, periodic=scheduled, handle=handle)

        def stop(signum, frame):  # SIGTERM/SIGINT: finish the current row, then leave
            loop.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo(f"worker {loop.worker_id}: started")
        handled = loop.run(once=once)
        click.echo(f"worker {loop.worker_id}: stopped after {handled} rows")

    app.cli.add_command(replay)
    app.cli.add_command(inbox_counts)


@click.command("replay")
@click.argument("inbox_id", type=int)
@with_appcontext
def replay(inbox_id: int) -> None:
    """Queue one inbox row again (e.g. a dead-lettered one after a fix)."""
    try:
        row = replay_row(db.session, inbox_id)
    except ReplayRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"inbox row {row.id} ({row.topic}, {row.shop_domain}) is pending again")


@click.command("inbox")
@click.option("--dead", "show_dead", is_flag=True, help="List dead-lettered rows with their reasons.")
@with_appcontext
def inbox_counts(show_dead: bool) -> None:
    """Inbox rows by state, and leases that expired (a worker died)."""
    for status, count in counts(db.session).items():
        click.echo(f"{status:<11}{count}")
    click.echo(f"{'expired':<11}{expired_leases(db.session)}  (processing, lease ran out)")
    if show_dead:
        rows = db.session.execute(
            select(InboxEvent).where(InboxEvent.status == InboxStatus.DEAD).order_by(InboxEvent.id)
        ).scalars()
        for row in rows:
            click.echo(f"{row.id}\t{row.topic}\t{row.shop_domain}\t{row.attempts}\t{row.last_error}")
