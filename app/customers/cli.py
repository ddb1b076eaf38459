"""`flask data-exports list|download`: customer data exports for an operator (no dashboard needed)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.customers import exports
from app.extensions import db

data_exports = AppGroup("data-exports", help="Customer data exports built for customers/data_request.")


def init_app(app: Flask) -> None:
    """Attach the customer-data commands to `flask`."""
    app.cli.add_command(data_exports)


@data_exports.command("list")
@click.option("--shop", "domain", default=None, help="Only this shop (x.myshopify.com).")
def list_command(domain: str | None) -> None:
    """Exports still downloadable: id, shop, Shopify customer id, request id, state, expiry."""
    rows = exports.list_exports(db.session, current_app.config["SETTINGS"])
    for row in rows:
        if domain and row.shop_domain != domain:
            continue
        click.echo(
            f"{row.id}\t{row.shop_domain}\tcustomer {row.shopify_customer_id}\trequest {row.data_request_id}"
            f"\t{row.status}\texpires {row.expires_at:%Y-%m-%d %H:%M}Z"
        )


@data_exports.command("download")
@click.argument("export_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File to write.")
def download_command(export_id: int, output: str | None) -> None:
    """Write one export's JSON to a file (default: its own name in the current directory)."""
    found = exports.download(db.session, current_app.config["SETTINGS"], export_id, shop_id=None, by="cli")
    if found is None:
        raise click.ClickException(f"no downloadable export {export_id} (unknown, or past its retention)")
    name, body = found
    with open(output or name, "wb") as fh:
        fh.write(body)
    db.session.commit()
    click.echo(f"export {export_id} written to {output or name}")
