"""The shop's Shopify locations: cached names for POS orders, and the ids still to be read from Shopify.

An order webhook names only `location_id`; Shopify is never asked here (this runs in the worker's
transaction). Unknown ids are recorded and the syncer reads their names (app/sync/locations.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models.shop import Shop, ShopLocation
from app.models.types import utcnow

NAME_LIMIT = 255  # ShopLocation.name / Purchase.location_name


def location_name(session: Session, shop: Shop, location_id: str, seen_name: str | None = None) -> str | None:
    """The location's name: the cached one, else `seen_name`; an unknown id is recorded for the syncer.

    `seen_name` is what the order itself said (bulk export, reconciliation): it names a new row and
    stands in for a row not read yet, but never replaces a cached name (renames are read by the syncer).
    """
    location_id = str(location_id)[:32]
    row = session.get(ShopLocation, (shop.id, location_id))
    seen = seen_name[:NAME_LIMIT] if seen_name else None
    if row is not None:
        return row.name or seen  # never written here: the syncer owns existing rows (no lock order to keep)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # Two workers may meet the same new location at once: the second insert is a no-op, not an error.
    session.execute(
        insert(ShopLocation)
        .values(shop_id=shop.id, location_id=location_id, name=seen, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["shop_id", "location_id"])
    )
    return seen


def cached_names(session: Session, shop: Shop) -> dict[str, str]:
    """Every named location of the shop, by legacy id."""
    rows = session.execute(
        select(ShopLocation.location_id, ShopLocation.name).where(
            ShopLocation.shop_id == shop.id, ShopLocation.name.is_not(None)
        )
    )
    return {lid: name for lid, name in rows if name is not None}
