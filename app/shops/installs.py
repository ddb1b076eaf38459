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
from app.i18n import negotiate
from app.models import BackfillJob, Shop, ShopLease, ShopToken
from app.models.shop import ShopStatus
from app.models.shop_jobs import BACKFILL_OPEN, BackfillStatus
from app.models.types import utcnow
from app.shopify.client import AdminClient
from app.shopify.errors import ShopifyError
from app.shopify.payloads.rest import legacy_id
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
                shop = Shop(domain=domain, status=ShopStatus.INSTALLED, granted_scopes="")
                session.add(shop)
        except IntegrityError:
            # A concurrent first load created it (App Bridge can fire a page load and a fetch at once).
            shop = session.execute(select(Shop).where(Shop.domain == domain)).scalar_one()
    if not shop.is_installed:
        shop.status = ShopStatus.INSTALLED
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
        .where(BackfillJob.shop_id == shop.id, BackfillJob.status.in_(BACKFILL_OPEN))
        .values(status=BackfillStatus.FAILED, error="app uninstalled", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    changed = shop.is_installed
    shop.status = ShopStatus.UNINSTALLED
    shop.uninstalled_at = occurred_at or utcnow()
    session.expire(shop, ["token"])
    session.flush()
    log.info("shop %s uninstalled", shop.id)
    return changed


def predates_install(shop: Shop, occurred_at: datetime) -> bool:
    """True when an event happened before the shop's current install (a late or replayed delivery)."""
    return shop.installed_at is not None and occurred_at < shop.installed_at


def shop_redact_refusal(shop: Shop | None, occurred_at: datetime) -> str | None:
    """Why shop/redact must not erase this shop now, or None when it may.

    Shopify sends shop/redact 48 h after an uninstall
    (https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance#shop-redact): it may only erase a
    shop that is uninstalled and was not reinstalled since. An event older than the latest uninstall refers
    to an earlier one, after which the shop came back. A shop we no longer hold has nothing left to keep.
    """
    if shop is None:
        return None
    if shop.is_installed:
        return "shop is installed (reinstalled after the uninstall, or never uninstalled)"
    if shop.uninstalled_at is not None and occurred_at < shop.uninstalled_at:
        return "shop/redact predates the shop's latest uninstall (it was reinstalled since)"
    if predates_install(shop, occurred_at):
        return "shop/redact predates the shop's latest install"
    return None


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


def remember_locale(session: Session, shop: Shop, tag: str | None) -> None:
    """Keep the admin's language, the `locale` the admin puts on every app load (app/i18n.py), for what
    the app names in the merchant's admin (segments). No scope and no call: `shop` has no language field
    in the 2026-07 schema, and `shopLocales` (the storefront's languages) would need `read_locales`.
    Commits only a change.
    """
    locale = negotiate(tag)
    if locale is not None and locale != shop.locale:
        shop.locale = locale
        session.commit()


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
    # Compliance bodies name the shop by its numeric id too; checked against this when known.
    shop.shopify_shop_id = legacy_id(details.get("id")) or shop.shopify_shop_id
    session.flush()
    return True


def _plan_handle(plan: dict) -> str:
    """The restore-rate tier (FACTS.md): Plus 1000/s, Advanced 200/s, everything else 100/s."""
    if plan.get("shopifyPlus"):
        return "plus"
    if "advanced" in str(plan.get("publicDisplayName") or "").lower():
        return "advanced"
    return "standard"
