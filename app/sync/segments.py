"""Shopify customer segments: the standard set on install, custom ones from the dashboard, counts compared.

Every query is built from the filter names `segmentFilters` returns and checked with
`customerSegmentMembersQueryCreate` before `segmentCreate`, so a filter Shopify does not know is reported as
an invalid segment on the dashboard instead of failing later for the merchant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.i18n import DEFAULT_LOCALE
from app.members.projection import project
from app.models.member import Member, MemberStatus
from app.models.shop import Shop
from app.models.sync_state import SegmentStatus, ShopSegment
from app.models.types import utcnow
from app.shopify.errors import ShopifyUserErrors
from app.shopify.pacing import CostPacer, paced_execute
from app.shops.namespace import learn as learn_namespace
from app.shops.rules import load_rules
from app.sync.segment_templates import (
    SegmentDefinition,
    SegmentDefinitionError,
    filter_names_from,
    matches,
    render,
    standard_definitions,
    validate,
)
from app.sync.syncer import shop_today

PAGE = 250  # Shopify's maximum page size for segments and segmentFilters
MEMBERS_QUERY_POLLS = 10
COUNT_BATCH = 500


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """A segment's size as Shopify counts it and as the app's own data says it should be."""

    handle: str
    name: str
    shopify_count: int | None
    app_count: int

    @property
    def agrees(self) -> bool:
        return self.shopify_count == self.app_count


def fetch_filter_names(client: Any, pacer: CostPacer, namespace: str) -> dict[str, str]:
    """Every page of `segmentFilters`, reduced to our metafield keys -> query names.

    `namespace` is the shop's resolved `$app` namespace (`Shop.app_namespace`, app/shops/namespace.py).
    """
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = paced_execute(
            client, pacer, "segment_filters", {"first": PAGE, "after": after}, expected_cost=260
        )
        page = data["segmentFilters"]
        nodes.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return filter_names_from(nodes, namespace)


def _existing_by_name(client: Any, pacer: CostPacer) -> dict[str, dict[str, Any]]:
    """The shop's segments by name (to adopt ours after a crash between segmentCreate and our commit)."""
    found: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        data = paced_execute(client, pacer, "segments", {"first": PAGE, "after": after}, expected_cost=260)
        for node in data["segments"]["nodes"]:
            found[node["name"]] = node
        if not data["segments"]["pageInfo"]["hasNextPage"]:
            return found
        after = data["segments"]["pageInfo"]["endCursor"]


def check_query(client: Any, pacer: CostPacer, query: str) -> tuple[int | None, str | None]:
    """(member count, None) for a query Shopify accepts, (None, message) for one it rejects."""
    try:
        data = paced_execute(
            client, pacer, "customer_segment_members_query_create", {"input": {"query": query}}
        )
    except ShopifyUserErrors as exc:
        return None, "; ".join(str(e.get("message")) for e in exc.user_errors)
    job = data["customerSegmentMembersQueryCreate"]["customerSegmentMembersQuery"]
    for _ in range(MEMBERS_QUERY_POLLS):
        if job["done"]:
            return int(job["currentCount"]), None
        pacer.sleep(1.0)  # the job runs asynchronously on Shopify; poll gently
        job = paced_execute(
            client, pacer, "customer_segment_members_query", {"id": job["id"]}, expected_cost=2
        )["customerSegmentMembersQuery"]
    return None, "Shopify did not finish counting the segment's members"


def ensure_segment(
    session: Session,
    shop: Shop,
    client: Any,
    pacer: CostPacer,
    definition: SegmentDefinition,
    filter_names: dict[str, str],
    existing: dict[str, dict[str, Any]],
    kind: str = "standard",
) -> ShopSegment:
    """Create one segment in Shopify unless it exists; the row records the outcome either way. Commits."""
    row = session.scalar(
        select(ShopSegment).where(ShopSegment.shop_id == shop.id, ShopSegment.handle == definition.handle)
    )
    if row is None:
        row = ShopSegment(
            shop_id=shop.id, handle=definition.handle, kind=kind, name=definition.name, query=""
        )
        session.add(row)
    if row.status == SegmentStatus.CREATED and row.shopify_id:
        return row
    row.name, row.definition, row.kind = definition.name, definition.to_json(), kind
    try:
        row.query = render(definition, filter_names)
    except SegmentDefinitionError as exc:
        row.status, row.error = SegmentStatus.INVALID, str(exc)
        session.commit()
        return row
    adopted = existing.get(definition.name)
    if adopted is not None and adopted["query"] == row.query:
        row.shopify_id, row.status, row.error = adopted["id"], SegmentStatus.CREATED, None
        session.commit()
        return row
    count, problem = check_query(client, pacer, row.query)
    if problem:
        row.status, row.error = SegmentStatus.INVALID, problem
        session.commit()
        return row
    try:
        data = paced_execute(client, pacer, "segment_create", {"name": definition.name, "query": row.query})
    except ShopifyUserErrors as exc:
        row.status, row.error = (
            SegmentStatus.INVALID,
            "; ".join(str(e.get("message")) for e in exc.user_errors),
        )
        session.commit()
        return row
    row.shopify_id = data["segmentCreate"]["segment"]["id"]
    row.status, row.error = SegmentStatus.CREATED, None
    row.shopify_count, row.counted_at = count, utcnow()
    session.commit()
    return row


def install_standard_segments(
    session: Session, shop: Shop, client: Any, pacer: CostPacer
) -> list[ShopSegment]:
    """On install: the standard segments (each rank and up, channel mix, dormant, expiring, regulars).

    Waits (returns nothing, creates no rows) while the shop's `$app` namespace cannot be learned.
    """
    namespace = learn_namespace(session, shop, client, pacer)
    if namespace is None:
        return []
    names = fetch_filter_names(client, pacer, namespace)
    existing = _existing_by_name(client, pacer)
    # Named in the language staff use the app in (recorded on app loads), so a Japanese shop reads Japanese.
    definitions = standard_definitions(load_rules(shop).ranks, shop.locale or DEFAULT_LOCALE)
    return [ensure_segment(session, shop, client, pacer, d, names, existing) for d in definitions]


def add_custom_segment(
    session: Session, shop: Shop, client: Any, pacer: CostPacer, name: str, groups: list[list[dict[str, Any]]]
) -> ShopSegment:
    """A merchant's own segment from the dashboard (conditions as `{key, op, value}` dicts)."""
    name = name.strip()
    if not name:
        raise SegmentDefinitionError("a segment needs a name")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "segment"
    handle = f"custom-{slug}"
    definition = validate(SegmentDefinition.from_json(handle, name, {"groups": groups}))
    namespace = learn_namespace(session, shop, client, pacer)
    if namespace is None:
        raise SegmentDefinitionError("Shopify has not told the app its metafield namespace yet; try again")
    names = fetch_filter_names(client, pacer, namespace)
    existing = _existing_by_name(client, pacer)
    return ensure_segment(session, shop, client, pacer, definition, names, existing, kind="custom")


def app_counts(session: Session, shop: Shop, now: datetime | None = None) -> dict[str, int]:
    """How many members each of the shop's segments should have, from the app's own data (by handle)."""
    now = now or utcnow()
    today = shop_today(shop, now)
    rows = session.scalars(select(ShopSegment).where(ShopSegment.shop_id == shop.id)).all()
    definitions = {r.handle: SegmentDefinition.from_json(r.handle, r.name, r.definition) for r in rows}
    counts = dict.fromkeys(definitions, 0)
    last_id = 0
    while True:
        members = session.scalars(
            select(Member)
            .where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE, Member.id > last_id)
            .where(Member.shopify_customer_id.is_not(None))
            .order_by(Member.id)
            .limit(COUNT_BATCH)
        ).all()
        if not members:
            return counts
        last_id = members[-1].id
        for p in project(session, shop, members, now).values():
            values = {k: v.value for k, v in p.metafields.items()}
            for handle, definition in definitions.items():
                if matches(definition, values, today):
                    counts[handle] += 1


def compare_counts(
    session: Session, shop: Shop, client: Any, pacer: CostPacer, now: datetime | None = None
) -> list[SegmentCount]:
    """Shopify's member count of each created segment next to the app's; stores Shopify's on the row."""
    expected = app_counts(session, shop, now)
    out = []
    for row in session.scalars(
        select(ShopSegment).where(ShopSegment.shop_id == shop.id).order_by(ShopSegment.id)
    ):
        shopify_count = None
        if row.status == SegmentStatus.CREATED and row.shopify_id:
            data = paced_execute(
                client, pacer, "segment_member_count", {"segmentId": row.shopify_id}, expected_cost=5
            )
            shopify_count = int(data["customerSegmentMembers"]["totalCount"])
            row.shopify_count, row.counted_at = shopify_count, utcnow()
        out.append(SegmentCount(row.handle, row.name, shopify_count, expected.get(row.handle, 0)))
    session.commit()
    return out
