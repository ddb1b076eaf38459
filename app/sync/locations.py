"""Store names for POS orders: read unknown (and, daily, known) locations from Shopify and re-project.

The worker only records a location id it has not seen (app/shops/locations.py); here, in the syncer's pass
and never inside a transaction, the names are read with one `nodes(ids:)` call, stored, and given to the
purchases of that location, whose members are then re-projected (favourite store, purchase history).
https://shopify.dev/docs/api/admin-graphql/latest/objects/Location
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, scoped_session

from app.members.records import lock_member, touch
from app.models.purchase import Purchase
from app.models.shop import Shop, ShopLocation
from app.shopify.errors import ShopifyError
from app.shopify.pacing import CostPacer, paced_execute
from app.shops.installs import missing_scopes_for
from app.shops.locations import NAME_LIMIT

log = logging.getLogger(__name__)

BATCH = 250  # Shopify's input array limit for `nodes(ids:)`


def resolve_locations(
    session: Session, shop: Shop, client: Any, pacer: CostPacer, now: datetime, refresh: timedelta
) -> int:
    """Read names of unknown locations and of those last read before `refresh`; returns how many changed.

    A Shopify failure is logged and left for the next pass (the sync itself goes on).
    """
    if missing_scopes_for(shop, "store_names"):
        return 0
    rows = session.scalars(
        select(ShopLocation)
        .where(
            ShopLocation.shop_id == shop.id,
            or_(ShopLocation.checked_at.is_(None), ShopLocation.checked_at < now - refresh),
        )
        .order_by(ShopLocation.checked_at.is_not(None), ShopLocation.checked_at)
        .limit(BATCH)
    ).all()
    if not rows:
        return 0
    ids = [row.location_id for row in rows]
    _end_transaction(session)  # no transaction stays open while Shopify answers
    try:
        data = paced_execute(
            client,
            pacer,
            "location_names",
            {"ids": [f"gid://shopify/Location/{lid}" for lid in ids]},
            expected_cost=len(ids) + 1,
        )
    except ShopifyError as exc:
        log.warning("location names for shop %s not read: %s", shop.id, type(exc).__name__)
        return 0
    names = {
        str(node["id"]).rsplit("/", 1)[-1]: str(node["name"])[:NAME_LIMIT]
        for node in data.get("nodes") or []
        if isinstance(node, dict) and node.get("id") and node.get("name")
    }
    changed = 0
    for lid in ids:
        row = session.get(ShopLocation, (shop.id, lid), populate_existing=True)
        if row is None:
            continue
        row.checked_at = now
        name = names.get(lid)
        if name is None or name == row.name:
            continue  # a deleted location keeps the name it had
        row.name = name
        changed += 1
        _rename_purchases(session, shop, lid, name)
    session.commit()
    return changed


def _end_transaction(session: Session) -> None:
    """Commit, keeping loaded rows as they are: reading the shop again would open a new transaction."""
    raw = session.registry() if isinstance(session, scoped_session) else session
    expire, raw.expire_on_commit = raw.expire_on_commit, False
    try:
        session.commit()
    finally:
        raw.expire_on_commit = expire


def _rename_purchases(session: Session, shop: Shop, location_id: str, name: str) -> None:
    """The location's purchases get its current name; their members are re-projected by the syncer."""
    key = f"shopify:{location_id}"  # app/domain/channels.py: the location key of a Shopify location
    purchases = session.scalars(
        select(Purchase).where(
            Purchase.shop_id == shop.id,
            Purchase.location_key == key,
            or_(Purchase.location_name.is_(None), Purchase.location_name != name),
        )
    ).all()
    for purchase in purchases:
        purchase.location_name = name
    for member_id in sorted({p.member_id for p in purchases}):  # in id order, as the worker locks them
        touch(lock_member(session, member_id))
