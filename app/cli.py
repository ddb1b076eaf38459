"""Flask commands for operators: worker, sync, backfill, replay, inbox."""

from __future__ import annotations

import signal
import time

import click
from flask import Flask


def register_cli(app: Flask) -> None:
    """Attach the operator commands to `flask`."""

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Process what is due, then exit.")
    @click.option("--idle-sleep", default=1.0, show_default=True, help="Seconds to wait when nothing is due.")
    def worker(once: bool, idle_sleep: float) -> None:
        """Process the webhook inbox (filled in by the webhook pipeline)."""
        stopping = False

        def stop(signum, frame):  # SIGTERM: finish the current row, then leave
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        click.echo("worker: started")
        while not stopping:
            if once:
                break
            time.sleep(idle_sleep)
        click.echo("worker: stopped")
