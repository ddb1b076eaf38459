"""Find members the way staff ask: member number, phone (any Japanese notation), email, or a name fragment.

The app stores no names, phones or emails (keyed hashes only, app/members/identity.py). A phone or email is
normalised and hashed exactly as at ingest and matched on the indexed hash. A name fragment is asked of
Shopify (`customers(query:)`), the system of record for names; the names are shown and never stored, so a
leaked database holds no names. Without Shopify (outage, missing scope) name search says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.identity import clean_member_number, email_hash, normalise_email, normalise_phone, phone_hash
from app.members.identity import hash_key
from app.models.member import Member, MemberStatus
from app.models.shop import Shop
from app.shopify.ids import customer_gid

log = logging.getLogger(__name__)

SearchKind = Literal["member_number", "phone", "email", "name", "empty", "invalid"]
NAME_RESULTS = 20
MAX_QUERY = 100


@dataclass
class SearchResult:
    """What a search found, how the query was read, and the names Shopify returned (never stored)."""

    kind: SearchKind
    members: list[Member] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # member id -> Shopify displayName
    unavailable: bool = False  # the name search could not reach Shopify


def classify(query: str) -> SearchKind:
    """How a query is read: member number (check digit valid), email, phone, else a name fragment."""
    text = query.strip()
    if not text:
        return "empty"
    if len(text) > MAX_QUERY:
        return "invalid"
    if clean_member_number(text):
        return "member_number"
    if "@" in text:
        return "email" if normalise_email(text) else "invalid"
    if normalise_phone(text):
        return "phone"
    return "name"


def search(session: Session, shop: Shop, query: str, *, client=None) -> SearchResult:
    """Members of `shop` matching `query` (active ones; merged members lead to their survivor)."""
    kind = classify(query)
    base = select(Member).where(Member.shop_id == shop.id, Member.status == MemberStatus.ACTIVE)
    if kind == "member_number":
        number = clean_member_number(query)
        return SearchResult(kind, list(session.scalars(base.where(Member.member_number == number))))
    if kind == "phone":
        digest = phone_hash(hash_key(), shop.id, query)
        return SearchResult(kind, list(session.scalars(base.where(Member.phone_hash == digest).limit(50))))
    if kind == "email":
        digest = email_hash(hash_key(), shop.id, query)
        return SearchResult(kind, list(session.scalars(base.where(Member.email_hash == digest).limit(50))))
    if kind == "name":
        return _by_name(session, shop, query.strip(), base, client)
    return SearchResult(kind)


def _by_name(session: Session, shop: Shop, fragment: str, base, client) -> SearchResult:
    from app.shopify.client import AdminClient
    from app.shopify.errors import ShopifyError

    client = client or AdminClient(shop, session=session)
    # Quoted so spaces and search-syntax characters in a name stay one free-text term.
    escaped = fragment.replace("\\", "\\\\").replace('"', '\\"')
    try:
        data = client.execute("customer_search", {"query": f'"{escaped}"', "first": NAME_RESULTS})
    except ShopifyError as exc:
        log.info("name search for shop %s failed: %s", shop.id, type(exc).__name__)
        return SearchResult("name", unavailable=True)
    names: dict[str, str] = {}
    for node in (data.get("customers") or {}).get("nodes") or []:
        if node and node.get("id"):
            # Members keep the numeric id (webhook bodies); match the GraphQL gid form too.
            names[node["id"]] = names[node["id"].rsplit("/", 1)[-1]] = node.get("displayName") or ""
    if not names:
        return SearchResult("name")
    members = list(session.scalars(base.where(Member.shopify_customer_id.in_(list(names)))))
    return SearchResult("name", members, {m.id: names.get(m.shopify_customer_id or "", "") for m in members})


def display_name(session: Session, shop: Shop, member: Member, *, client=None) -> str | None:
    """The customer's name from Shopify for the member page (None if unlinked or Shopify is away)."""
    if not member.shopify_customer_id:
        return None
    from app.shopify.client import AdminClient
    from app.shopify.errors import ShopifyError

    client = client or AdminClient(shop, session=session)
    try:
        data = client.execute("customer_display_name", {"id": customer_gid(member.shopify_customer_id)})
    except ShopifyError as exc:
        log.info("display name for shop %s failed: %s", shop.id, type(exc).__name__)
        return None
    return ((data.get("customer") or {}).get("displayName")) or None
