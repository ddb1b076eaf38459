"""A separate process that calls Shopify for one shop (imported by spawned interpreters: app code only)."""

from __future__ import annotations


def call_shopify(env: dict[str, str], shop_id: int, ready, go, results) -> None:
    """Build the app from `env`, load the shop, say ready, wait for `go`, then make one Admin API call."""
    from app import create_app
    from app.config import load_settings
    from app.extensions import db
    from app.models import Shop
    from app.shopify.client import AdminClient

    app = create_app(load_settings(env))
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        db.session.expunge(shop)
        db.session.remove()
        ready.put(True)
        go.wait(60)
        try:
            results.put(AdminClient(shop).execute("shop_details")["shop"]["currencyCode"])
        except Exception as exc:  # reported to the parent, which asserts on every outcome
            results.put(f"{type(exc).__name__}: {exc}")
