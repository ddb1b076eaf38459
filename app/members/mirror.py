"""The opt-in mirror of the scalar member fields into the merchant-owned `tsunagu` namespace.

The app's own metafields (`$app`, `access.admin = merchant_read`) can be read by the merchant but by no
other app ("No other apps have access": https://shopify.dev/docs/api/admin-graphql/latest/enums/MetafieldAdminAccess).
Metafields in a merchant-owned namespace can be read, and written, by every installed app with the
resource's scope (https://shopify.dev/docs/apps/build/custom-data/metafields/definitions/use-access-controls-metafields).
So the mirror is the merchant's choice: switched on, the definitions are created and the syncer writes the
values next to the app-owned ones, re-asserting them on every sync; switched off, the syncer removes the
mirrored values (the definitions stay: segments the merchant built on them keep working, and they are the
merchant's to delete).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.members.projection import (
    MIRROR_DEFINED_SETTING,
    MIRROR_FIELDS,
    MIRROR_NAMESPACE,
    MIRROR_SETTING,
)
from app.models.shop import Shop
from app.models.sync_state import MemberSyncState
from app.shopify.errors import ShopifyUserErrors
from app.shopify.pacing import CostPacer, paced_execute

log = logging.getLogger(__name__)

FIELD_NAMES = {
    "member_number": "Member number",
    "rank": "Member rank",
    "points_balance": "Points available",
    "points_expiring": "Points expiring next",
    "points_expire_at": "Points expire on",
    "channel_mix": "Channel mix",
    "last_store_visit_at": "Last store visit",
    "line_linked": "LINE linked",
}
DEFINITIONS = {**MIRROR_FIELDS, "points_expiring": "number_integer"}


def is_on(shop: Shop) -> bool:
    """The merchant's choice (the values are written once the definitions exist as well)."""
    return (shop.settings or {}).get(MIRROR_SETTING) is True


def switch(session: Session, shop: Shop, on: bool) -> None:
    """Record the merchant's choice and have every member re-projected; commits.

    On: the next syncer pass creates the definitions (ensure_definitions), then writes. Off: the next passes
    remove the mirrored values (metafieldsDelete), member by member.
    """
    shop.settings = {**(shop.settings or {}), MIRROR_SETTING: on}
    _reproject_all(session, shop)
    session.commit()
    log.info("shop %s: metafield mirror switched %s", shop.id, "on" if on else "off")


def ensure_definitions(session: Session, shop: Shop, client: Any, pacer: CostPacer) -> bool:
    """Create the mirror's definitions once the merchant switched it on; True when they exist. Commits.

    A definition that exists already (TAKEN: an earlier pass, or the merchant made it) counts as made; any
    other refusal is logged and tried again on a later pass, the values waiting until then.
    """
    settings = shop.settings or {}
    if not is_on(shop) or settings.get(MIRROR_DEFINED_SETTING) is True:
        return settings.get(MIRROR_DEFINED_SETTING) is True
    for key, mtype in DEFINITIONS.items():
        definition = {
            "ownerType": "CUSTOMER",
            "namespace": MIRROR_NAMESPACE,
            "key": key,
            "type": mtype,
            "name": f"Tsunagu: {FIELD_NAMES[key]}",
        }
        try:
            paced_execute(client, pacer, "metafield_definition_create", {"definition": definition})
        except ShopifyUserErrors as exc:
            codes = {str(e.get("code")) for e in exc.user_errors}
            if codes != {"TAKEN"}:
                log.warning("shop %s: mirror definition %s refused: %s", shop.id, key, sorted(codes))
                return False
    shop.settings = {**settings, MIRROR_DEFINED_SETTING: True}
    _reproject_all(session, shop)
    session.commit()
    log.info("shop %s: metafield mirror definitions created", shop.id)
    return True


def _reproject_all(session: Session, shop: Shop) -> None:
    """Every member of the shop is dirty again (the syncer re-projects members with no projection day)."""
    session.execute(
        update(MemberSyncState)
        .where(MemberSyncState.shop_id == shop.id)
        .values(projected_on=None)
        .execution_options(synchronize_session=False)
    )
