"""A `line` customer tag set by a LINE CRM app counts as a LINE link (for segments and metafields only).

Such apps link LINE users to Shopify customers on their own and mark them with a `line` tag; we never learn
the LINE user id, so nothing is sent to them, but `line_linked` is true for them. Tags reach the app only
through GraphQL (customers/update webhooks carry none since 2025-01), so the shop's tagged customers are read
with a tag search and compared case-insensitively (the search itself may match more loosely).
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.integrations.line.links import sync_member_flag
from app.models.integrations import LineTaggedCustomer
from app.models.shop import Shop
from app.models.types import utcnow
from app.shopify.client import AdminClient

log = logging.getLogger(__name__)

TAG = "line"
PAGE = 250  # the connection's maximum page size
MAX_PAGES = 400  # 100,000 tagged customers a pass; a larger list is read on the next pass from the start


def is_line_tag(tag: object) -> bool:
    """`line`, `LINE`, ` Line ` — the tag alone, not tags that merely contain the word."""
    return isinstance(tag, str) and tag.strip().casefold() == TAG


def read_tagged(client: AdminClient) -> set[str]:
    """The numeric ids of the shop's customers carrying a `line` tag."""
    tagged: set[str] = set()
    after: str | None = None
    for _ in range(MAX_PAGES):
        data = client.execute("customers_tagged_line", {"first": PAGE, "after": after})
        connection = data.get("customers") or {}
        for node in connection.get("nodes") or []:
            if node and node.get("id") and any(is_line_tag(t) for t in node.get("tags") or []):
                tagged.add(str(node["id"]).rsplit("/", 1)[-1])
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage") or not page.get("endCursor"):
            break
        after = page["endCursor"]
    return tagged


def sync_line_tags(session: Session, shop: Shop, client: AdminClient | None = None) -> int:
    """Record who carries the tag now and update `line_linked` where that changed; returns the changes.

    The caller commits. A customer losing the tag keeps `line_linked` if they have a LINE link of ours.
    """
    tagged = read_tagged(client or AdminClient(shop, session=session))
    known = set(
        session.scalars(
            select(LineTaggedCustomer.shopify_customer_id).where(LineTaggedCustomer.shop_id == shop.id)
        )
    )
    now = utcnow()
    for customer_id in sorted(tagged - known):
        session.add(LineTaggedCustomer(shop_id=shop.id, shopify_customer_id=customer_id, seen_at=now))
    gone = sorted(known - tagged)
    if gone:
        session.execute(
            delete(LineTaggedCustomer).where(
                LineTaggedCustomer.shop_id == shop.id, LineTaggedCustomer.shopify_customer_id.in_(gone)
            )
        )
    session.flush()
    changed = sorted((tagged - known) | set(gone))
    for customer_id in changed:
        sync_member_flag(session, shop, customer_id)
    if changed:
        log.info(
            "LINE CRM tags for shop=%s: %d tagged, %d untagged", shop.domain, len(tagged - known), len(gone)
        )
    return len(changed)
