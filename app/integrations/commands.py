"""Operator commands for the store side: connect Smaregi/LINE, send LINE, reconcile Smaregi, status."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.models.shop import Shop


def init_app(app: Flask) -> None:
    """Attach the store-side commands to `flask`."""
    for command in (
        line_send,
        line_tags,
        smaregi_reconcile,
        store_tick,
        smaregi_connect,
        line_connect,
        store_status,
    ):
        app.cli.add_command(command)


@click.command("line-send")
@with_appcontext
def line_send() -> None:
    """Queue thank-yous for new store purchases and send every due LINE message once."""
    from app.integrations.periodic import line_tick

    outcomes = line_tick()
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) or "nothing due")


@click.command("line-tags")
@with_appcontext
def line_tags() -> None:
    """Read customers tagged `line` by LINE CRM apps (GraphQL) and set `line_linked` to match, per shop."""
    from app.integrations.line.crm_tags import sync_line_tags
    from app.models.shop import ShopStatus
    from app.shopify.errors import ShopifyError

    for shop in db.session.scalars(select(Shop).where(Shop.status == ShopStatus.INSTALLED)).all():
        try:
            changed = sync_line_tags(db.session, shop)
            db.session.commit()
        except ShopifyError as exc:
            db.session.rollback()
            click.echo(f"{shop.domain}: failed ({type(exc).__name__})")
            continue
        click.echo(f"{shop.domain}: {changed} members changed")


@click.command("smaregi-reconcile")
@with_appcontext
def smaregi_reconcile() -> None:
    """Pull Smaregi transactions updated since each shop's watermark, once."""
    from app.integrations.smaregi.reconcile import reconcile_all

    for shop, applied in reconcile_all(db.session).items():
        click.echo(
            f"{shop}: {'failed (see connection last_error)' if applied < 0 else f'{applied} receipts'}"
        )


@click.command("store-tick")
@with_appcontext
@click.option("--every", type=float, default=None, help="Repeat every N seconds until SIGTERM (own process).")
def store_tick(every: float | None) -> None:
    """The worker's store-side hook (LINE outbox, Smaregi reconcile when due), once or as a loop."""
    import signal
    import time

    from app.integrations.periodic import run_store_jobs

    stopping = False

    def stop(signum, frame):  # finish the current pass, then leave
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    while True:
        try:
            run_store_jobs()
        except Exception as exc:  # one bad pass must not end the loop; the next one retries
            db.session.rollback()
            click.echo(f"store-tick failed: {type(exc).__name__}", err=True)
            if every is None:
                raise
        if every is None or stopping:
            break
        time.sleep(every)
    click.echo("done")


def _shop(domain: str) -> Shop:
    shop = db.session.scalar(select(Shop).where(Shop.domain == domain))
    if shop is None:
        raise click.ClickException(f"no shop {domain}")
    return shop


@click.command("smaregi-connect")
@with_appcontext
@click.argument("shop_domain")
@click.option("--contract-id", required=True)
@click.option("--client-id", required=True)
@click.option("--client-secret", envvar="SMAREGI_CLIENT_SECRET", prompt=True, hide_input=True)
@click.option("--webhook-secret", envvar="SMAREGI_WEBHOOK_SECRET", prompt=True, hide_input=True)
@click.option("--environment", type=click.Choice(["jp", "dev"]), default="jp", show_default=True)
@click.option(
    "--rank-code", "rank_codes", multiple=True, help="tier=SmaregiRankCode, e.g. silver=2 (repeat)."
)
def smaregi_connect(
    shop_domain: str,
    contract_id: str,
    client_id: str,
    client_secret: str,
    webhook_secret: str,
    environment: str,
    rank_codes: tuple[str, ...],
) -> None:
    """Store a shop's Smaregi contract (secrets from the environment or a hidden prompt, never argv)."""
    from app.integrations.smaregi.connection import ConnectionError_, connect

    pairs = [code.partition("=") for code in rank_codes]
    if any(not tier or not sep or not value for tier, sep, value in pairs):
        raise click.ClickException("--rank-code takes tier=code, e.g. silver=2")
    try:
        connect(
            db.session,
            _shop(shop_domain),
            contract_id=contract_id,
            client_id=client_id,
            client_secret=client_secret,
            webhook_secret=webhook_secret,
            environment=environment,
            rank_codes={tier: value for tier, _, value in pairs} if pairs else None,
        )
    except ConnectionError_ as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(
        f"{shop_domain}: Smaregi contract {contract_id} connected; webhook header X-Tsunagu-Webhook-Secret"
    )


@click.command("line-connect")
@with_appcontext
@click.argument("shop_domain")
@click.option("--channel-secret", envvar="LINE_CHANNEL_SECRET", prompt=True, hide_input=True)
@click.option("--access-token", envvar="LINE_CHANNEL_ACCESS_TOKEN", prompt=True, hide_input=True)
@click.option("--basic-id", default=None, help="The account's basic id (@xxxx), for the add-friend link.")
@click.option("--send-at", default="20:00", show_default=True, help="Local time for thank-you messages.")
def line_connect(
    shop_domain: str, channel_secret: str, access_token: str, basic_id: str | None, send_at: str
) -> None:
    """Store a shop's LINE channel; its webhook URL is /integrations/line/webhooks/<shop>."""
    from app.integrations.line.links import connect_line

    connect_line(
        db.session,
        _shop(shop_domain),
        channel_secret=channel_secret,
        access_token=access_token,
        bot_basic_id=basic_id,
        send_at_local=send_at,
    )
    db.session.commit()
    click.echo(f"{shop_domain}: LINE connected; webhook URL path /integrations/line/webhooks/{shop_domain}")


@click.command("store-status")
@with_appcontext
@click.argument("shop_domain")
def store_status(shop_domain: str) -> None:
    """Smaregi receipts by state, unmapped stores, push failures, LINE outbox by state."""
    from app.integrations.status import store_health

    health = store_health(db.session, _shop(shop_domain))
    click.echo(
        f"smaregi connected: {health.smaregi_connected}  last error: {health.smaregi_last_error or '-'}"
    )
    click.echo(f"receipts: {health.transactions_by_status}  unmapped stores: {health.unmapped_stores or '-'}")
    click.echo(f"push failures: {health.push_failures}")
    click.echo(f"line connected: {health.line_connected}  outbox: {health.line_by_status}")
    for message_id, reason in health.line_failures:
        click.echo(f"  line message {message_id}: {reason}")
