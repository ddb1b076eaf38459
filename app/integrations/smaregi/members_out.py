"""Online members into Smaregi: each member not yet there becomes a Smaregi member whose customer code is
the app's member number, so the member card's barcode (which prints the member number) reads at the register.

POST /customers takes `customerCode` (unique, up to 20 printable ASCII characters), `lastName` and
`firstName` (required) and `rank` (the merchant's rank code)
(https://developers.smaregi.dev/platform-api-reference/apis/pos/operations/postcustomersbulk lists the
member fields). The app keeps no names (only keyed hashes), so the name fields carry the member number;
staff can type the real name at the register. Idempotent: a member whose number Smaregi already holds (a
pass that died after the POST) is linked, not created twice.
"""

from __future__ import annotations

import logging

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.integrations.smaregi.client import SmaregiClient, SmaregiError
from app.members.identity import link_external
from app.models.integrations import SmaregiConnection, SmaregiCustomer
from app.models.member import ExternalLink, Member, MemberStatus
from app.models.shop import Shop

log = logging.getLogger(__name__)
NAME_PLACEHOLDER = "Tsunagu"


def members_to_export(session: Session, shop: Shop, limit: int) -> list[Member]:
    """Active online members without a Smaregi link, oldest first."""
    linked = exists().where(
        ExternalLink.shop_id == shop.id, ExternalLink.source == "smaregi", ExternalLink.member_id == Member.id
    )
    return list(
        session.scalars(
            select(Member)
            .where(
                Member.shop_id == shop.id,
                Member.status == MemberStatus.ACTIVE,
                Member.shopify_customer_id.is_not(None),
                ~linked,
            )
            .order_by(Member.id)
            .limit(limit)
        )
    )


def export_members(session: Session, shop: Shop, client: SmaregiClient, limit: int = 50) -> int:
    """Create (or find) the Smaregi member of each unlinked online member; returns members linked."""
    connection = session.get(SmaregiConnection, shop.id)
    if connection is None or not connection.export_members:
        return 0
    done = 0
    for member in members_to_export(session, shop, limit):
        try:
            record = client.find_customer_by_code(member.member_number)
            if record is None:
                body = {
                    "customerCode": member.member_number,
                    "lastName": NAME_PLACEHOLDER,
                    "firstName": member.member_number,
                }
                rank = (connection.rank_codes or {}).get(member.rank)
                if rank is not None:
                    body["rank"] = rank
                record = client.create_customer(body)
        except SmaregiError as exc:
            log.warning("smaregi member export for shop=%s failed: %s", shop.domain, exc)
            if exc.transient:
                break
            continue
        customer_id = str(record["customerId"])
        linked = link_external(session, shop, "smaregi", external_id=customer_id, code=member.member_number)
        if linked.id != member.id:
            # The code matched another member (a store record typed with this number): staff look at it.
            log.warning("smaregi member export for shop=%s: code held by another member", shop.domain)
            continue
        row = session.scalar(
            select(SmaregiCustomer).where(
                SmaregiCustomer.shop_id == shop.id, SmaregiCustomer.customer_id == customer_id
            )
        ) or SmaregiCustomer(shop_id=shop.id, customer_id=customer_id)
        row.customer_code, row.deleted, row.push_due = member.member_number, False, True
        session.add(row)
        done += 1
    session.flush()
    return done
