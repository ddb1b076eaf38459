"""The app's reserved metafield namespace in a shop, as Shopify resolves `$app`, learned from Shopify.

Shopify turns `$app` into `app--<the app's numeric id>` (`$app:x` into `app--<id>--x`;
https://shopify.dev/docs/apps/build/custom-data/ownership). Segment filters and other readers name the
resolved form (`metafields.app--1576377.rank`), so it is read from Shopify (`currentAppInstallation.app.id`,
or the namespace `metafieldsSet` answers with) and never built from the client id. Until it is known,
segments wait; writes keep using `$app`, which Shopify resolves itself.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.orm import Session

from app.models.shop import Shop
from app.shopify.errors import ShopifyError
from app.shopify.pacing import CostPacer, paced_execute

log = logging.getLogger(__name__)

_APP_GID = re.compile(r"^gid://shopify/App/(\d{1,20})$")
_RESOLVED = re.compile(r"^app--(\d{1,20})(?:--[A-Za-z0-9_-]+)?$")


def namespace_of_app(app_gid: str | None) -> str | None:
    """`app--123` from `gid://shopify/App/123`; None for anything else."""
    match = _APP_GID.match(str(app_gid or ""))
    return f"app--{match.group(1)}" if match else None


def namespace_written(namespace: str | None) -> str | None:
    """The app's namespace from one Shopify answered a `$app` write with (`app--123`), else None."""
    match = _RESOLVED.match(str(namespace or ""))
    return f"app--{match.group(1)}" if match else None


def remember(shop: Shop, namespace: str | None) -> bool:
    """Set a namespace learned from Shopify if none is known yet; True when set (the caller commits)."""
    if namespace is None or shop.app_namespace == namespace:
        return False
    if shop.app_namespace is not None:
        # One app has one id; a different answer means something is wrong, so keep the first and say so.
        log.warning("shop %s: Shopify answered namespace %s, kept %s", shop.id, namespace, shop.app_namespace)
        return False
    shop.app_namespace = namespace
    log.info("shop %s: app namespace learned", shop.id)
    return True


def learn(session: Session, shop: Shop, client: Any, pacer: CostPacer) -> str | None:
    """The shop's `$app` namespace, asked of Shopify when not known yet; None (logged) if it cannot say now.

    Commits what it learns at once: the next Shopify call reads the token on its own connection, which a
    pending write to the shop row would block on SQLite.
    """
    if shop.app_namespace:
        return shop.app_namespace
    try:
        data = paced_execute(client, pacer, "current_app_installation", expected_cost=2)
    except ShopifyError as exc:
        log.warning("shop %s: app namespace not read: %s", shop.id, type(exc).__name__)
        return None
    app_gid = ((data.get("currentAppInstallation") or {}).get("app") or {}).get("id")
    namespace = namespace_of_app(app_gid)
    if namespace is None:
        log.warning("shop %s: currentAppInstallation.app.id is not an App gid", shop.id)
        return None
    if remember(shop, namespace):
        session.commit()
    return namespace
