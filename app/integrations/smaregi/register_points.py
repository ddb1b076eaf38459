"""Points used to pay at the Smaregi register: a ledger spend once per receipt, given back once on its void.

The register records them on the transaction as `spendPoint` and takes them off its own member balance;
the ledger follows with a spend keyed ("smaregi", receipt id, "spend") at the time the register rang it, so
webhook retries, the reconciliation pull and edits of the receipt all land on the same single spend. A void
(or a void in place) gives back everything that receipt spent; a return gives back the points its own
receipt returns. Each give-back is an adjustment keyed ("smaregi", "return:<receipt id>", "adjust"), so a
re-delivered void or return restores once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.smaregi.mapping import TransactionFacts
from app.members.records import lock_member, touch
from app.models.integrations import SmaregiConnection, SmaregiTransaction
from app.models.member import Member
from app.models.shop import Shop
from app.models.types import utcnow
from app.points import ledger
from app.points.engine import rebuild_members
from app.points.spending import InsufficientPoints, spend

log = logging.getLogger(__name__)
SOURCE = "smaregi"


def apply_register_points(
    session: Session, shop: Shop, facts: TransactionFacts, member: Member | None
) -> str | None:
    """Post the spend or the give-back this receipt carries; returns a note for staff when it could not.

    Nothing when the merchant turned off points at the register on the settings page.
    """
    connection = session.get(SmaregiConnection, shop.id)
    if member is None or connection is None or not connection.register_points:
        return None
    if facts.kind == "sale" and facts.spend_points > 0:
        return _spend(session, shop, member, facts)
    if facts.kind in ("void", "cancel"):
        original = facts.transaction_head_id if facts.kind == "void" else facts.refers_to
        spent = _spent_on(session, shop, original or "")
        return _give_back(
            session,
            shop,
            member,
            spent,
            f"return:{original}",
            facts.updated_at if facts.kind == "void" else facts.transacted_at,
        )
    if facts.kind == "return" and facts.spend_points > 0:
        return _give_back(
            session,
            shop,
            member,
            facts.spend_points,
            f"return:{facts.transaction_head_id}",
            facts.transacted_at,
        )
    return None


def _spend(session: Session, shop: Shop, member: Member, facts: TransactionFacts) -> str | None:
    member = lock_member(session, member.id)
    try:
        spend(
            session,
            member,
            facts.spend_points,
            source=SOURCE,
            source_id=facts.transaction_head_id,
            now=facts.transacted_at,
            reason="points used at the Smaregi register",
        )
        # The spend settled the member as of the sale; bring the state to the present (late deliveries).
        rebuild_members(session, shop, [member.id], utcnow())
    except InsufficientPoints:
        # The register already took them; the ledger cannot go below zero on a spend. Staff decide.
        log.warning("smaregi receipt %s used more points than available", facts.transaction_head_id)
        return f"spendPoint {facts.spend_points} exceeds the member's available points"
    return None


def _spent_on(session: Session, shop: Shop, head_id: str) -> int:
    """Points the ledger took for a receipt (0 when it recorded no spend)."""
    if not ledger.transaction_exists(session, shop.id, SOURCE, head_id, "spend"):
        return 0
    row = session.scalar(
        select(SmaregiTransaction).where(
            SmaregiTransaction.shop_id == shop.id, SmaregiTransaction.transaction_head_id == head_id
        )
    )
    return row.spend_points if row is not None else 0


def _give_back(
    session: Session, shop: Shop, member: Member, points: int, key: str, at: datetime
) -> str | None:
    if points <= 0 or ledger.transaction_exists(session, shop.id, SOURCE, key, "adjust"):
        return None
    member = lock_member(session, member.id)
    ledger.post(
        session,
        shop.id,
        member,
        source=SOURCE,
        source_id=key,
        kind="adjust",
        legs=[("adjustment", None, -points), ("available", member.id, points)],
        effective_at=at,
        reason="points used at the Smaregi register given back (void or return)",
    )
    rebuild_members(session, shop, [member.id], utcnow())
    touch(member)
    return None
