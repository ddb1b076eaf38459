"""Operator commands for the store side: `flask line-send`, `flask smaregi-reconcile`, `flask store-tick`."""

from __future__ import annotations

import click
from flask import Blueprint

from app.extensions import db

bp = Blueprint("store_commands", __name__, cli_group=None)


@bp.cli.command("line-send")
def line_send() -> None:
    """Queue thank-yous for new store purchases and send every due LINE message once."""
    from app.integrations.periodic import line_tick

    outcomes = line_tick()
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) or "nothing due")


@bp.cli.command("smaregi-reconcile")
def smaregi_reconcile() -> None:
    """Pull Smaregi transactions updated since each shop's watermark, once."""
    from app.integrations.smaregi.reconcile import reconcile_all

    for shop, applied in reconcile_all(db.session).items():
        click.echo(
            f"{shop}: {'failed (see connection last_error)' if applied < 0 else f'{applied} receipts'}"
        )


@bp.cli.command("store-tick")
def store_tick() -> None:
    """Everything the worker's store-side hook does, once (LINE outbox, Smaregi reconcile when due)."""
    from app.integrations.periodic import run_due

    run_due()
    click.echo("done")
