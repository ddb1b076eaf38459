"""Install lifecycle: install or reinstall, uninstall, scope changes, features lacking a scope."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from shopify_app import IdTokenDetails
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import BackfillJob, Shop, ShopLease, ShopToken
from app.models.types import utcnow
from app.shopify.client import AdminClient
from app.shopify.errors import ShopifyError
from app.shopify.token_exchange import exchange_for_offline_token
from app.shopify.tokens import TokenGrant, store_grant

log = logging.getLogger(__name__)

# What each dashboard feature needs. A write scope implies its read scope (Shopify grants both).
FEATURE_SCOPES: dict[str, frozenset[str]] = {
    "member_sync": frozenset({"write_customers"}),  # metafields and tags on customers
    "order_points": frozenset({"read_orders"}),
    "history_backfill": frozenset({"read_all_orders", "read_orders"}),  # older than 60 days
    "store_names": frozenset({"read_locations"}),
    "segments": frozenset({"read_customers"}),
    "reward_codes": frozenset({"write_discounts"}),
    "customer_merge": frozenset({"read_customer_merge"}),
    "member_card": frozenset({"write_app_proxy"}),
}
ACTIVE_JOB_STATES = ("pending", "running", "downloading")


def normalise_scopes(scopes: Iterable[str] | str) -> str:
    """Sorted, de-duplicated, comma-joined scope handles."""
    items = scopes.split(",") if isinstance(scopes, str) else scopes
    return ",".join(sorted({s.strip() for s in items if s and s.strip()}))


def complete_install(session: Session, domain: str, grant: TokenGrant) -> Shop:
    """Create or reactivate the shop and store its token pair; the caller commits."""
    shop = session.execute(select(Shop).where(Shop.domain == domain)).scalar_one_or_none()
    if shop is None:
        try:
            with session.begin_nested():
                shop = Shop(domain=domain, status="installed", granted_scopes="")
                session.add(shop)
        except IntegrityError:
            # A concurrent first load created it (App Bridge can fire a page load and a fetch at once).
            shop = session.execute(select(Shop).where(Shop.domain == domain)).scalar_one()
    if not shop.is_installed:
        shop.status = "installed"
        shop.installed_at = utcnow()
        shop.uninstalled_at = None
        log.info("shop %s reinstalled", shop.id)
    shop.granted_scopes = normalise_scopes(grant.scope)
    store_grant(session, shop, grant)
    session.flush()
    return shop


def exchange_id_token(
    shop_domain: str, id_token: IdTokenDetails | str, *, session: Session | None = None
) -> Shop:
    """Token exchange for an expiring offline token; installs (or reinstalls) the shop and commits."""
    grant = exchange_for_offline_token(shop_domain, id_token)
    session = session or db.session
    shop = complete_install(session, shop_domain, grant)
    # Commit now: the pair is only useful if it survives, whatever the request does next.
    session.commit()
    log.info("token exchanged for shop %s", shop.id)
    if refresh_shop_details(session, shop):
        session.commit()
    return shop


def mark_uninstalled(session: Session, shop: Shop, occurred_at: datetime | None = None) -> bool:
    """Delete the tokens at once, mark the shop uninstalled and stop its jobs; the caller commits.

    `occurred_at` (the webhook's X-Shopify-Triggered-At) guards against a late delivery: an uninstall that
    happened before the current install is ignored. Returns whether anything changed.
    """
    if occurred_at is not None and shop.installed_at is not None and occurred_at < shop.installed_at:
        log.info("ignoring uninstall of shop %s that predates its reinstall", shop.id)
        return False
    session.execute(delete(ShopToken).where(ShopToken.shop_id == shop.id))
    session.execute(delete(ShopLease).where(ShopLease.shop_id == shop.id))
    session.execute(
        update(BackfillJob)
        .where(BackfillJob.shop_id == shop.id, BackfillJob.status.in_(ACTIVE_JOB_STATES))
        .values(status="failed", error="app uninstalled", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    changed = shop.is_installed
    shop.status = "uninstalled"
    shop.uninstalled_at = occurred_at or utcnow()
    session.expire(shop, ["token"])
    session.flush()
    log.info("shop %s uninstalled", shop.id)
    return changed


def update_scopes(session: Session, shop: Shop, scopes: Iterable[str] | str) -> None:
    """Record the scopes the merchant has granted now (app/scopes_update, or currentAppInstallation)."""
    shop.granted_scopes = normalise_scopes(scopes)
    session.flush()


def has_scope(granted: set[str], scope: str) -> bool:
    """True if granted, directly or through the matching write scope."""
    if scope in granted:
        return True
    return scope.startswith("read_") and "write_" + scope.removeprefix("read_") in granted


def missing_scopes_for(shop: Shop, feature: str) -> set[str]:
    """Scopes the feature needs that the shop has not granted (empty: the feature can run)."""
    needed = FEATURE_SCOPES[feature]
    granted = shop.scopes
    return {scope for scope in needed if not has_scope(granted, scope)}


def features_missing_scopes(shop: Shop) -> dict[str, set[str]]:
    """Every feature the shop cannot use yet, with the scopes it lacks (for the dashboard)."""
    return {name: missing for name in FEATURE_SCOPES if (missing := missing_scopes_for(shop, name))}


def refresh_shop_details(session: Session, shop: Shop) -> bool:
    """Copy name, currency, time zone and plan from Shopify; False (logged) if Shopify cannot say now."""
    try:
        data = AdminClient(shop, session=session).execute("shop_details")
    except ShopifyError as exc:
        log.warning("shop details for shop %s not read: %s", shop.id, type(exc).__name__)
        return False
    details = data.get("shop") or {}
    plan = details.get("plan") or {}
    shop.name = details.get("name") or shop.name
    shop.currency = details.get("currencyCode") or shop.currency
    shop.timezone = details.get("ianaTimezone") or shop.timezone
    shop.plan = _plan_handle(plan)
    session.flush()
    return True


def _plan_handle(plan: dict) -> str:
    """The restore-rate tier (FACTS.md): Plus 1000/s, Advanced 200/s, everything else 100/s."""
    if plan.get("shopifyPlus"):
        return "plus"
    if "advanced" in str(plan.get("publicDisplayName") or "").lower():
        return "advanced"
    return "standard"
