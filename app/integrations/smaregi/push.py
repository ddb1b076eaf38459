"""Rank and points back to the Smaregi member, so the register shows the numbers the app computed."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.smaregi.client import SmaregiClient, SmaregiError
from app.members.identity import find_link
from app.members.records import active_member
from app.models.integrations import SmaregiConnection, SmaregiCustomer
from app.models.member import Member
from app.models.shop import Shop
from app.models.types import utcnow

log = logging.getLogger(__name__)


def member_of(session: Session, shop: Shop, customer: SmaregiCustomer) -> Member | None:
    """The app's member behind a Smaregi member (following merges), if identity linked one."""
    link = find_link(session, shop, "smaregi", external_id=customer.customer_id, code=customer.customer_code)
    return active_member(session, session.get(Member, link.member_id)) if link is not None else None


def push_due(session: Session, shop: Shop, client: SmaregiClient, limit: int = 100) -> int:
    """Push every member marked due; a failure stays due (retried next run) with its reason visible."""
    connection = session.get(SmaregiConnection, shop.id)
    if connection is None or not connection.push_enabled:
        return 0
    rows = session.scalars(
        select(SmaregiCustomer)
        .where(
            SmaregiCustomer.shop_id == shop.id,
            SmaregiCustomer.push_due.is_(True),
            SmaregiCustomer.deleted.is_(False),
        )
        .order_by(SmaregiCustomer.id)
        .limit(limit)
    ).all()
    pushed = 0
    for row in rows:
        member = member_of(session, shop, row)
        if member is None:
            row.push_due = False
            continue
        # A tier without a Smaregi rank code keeps the register's rank as it is; points still go.
        rank = (connection.rank_codes or {}).get(member.rank)
        points = max(member.points_available, 0)
        try:
            if rank is not None and rank != row.pushed_rank:
                client.update_customer_rank(row.customer_id, rank)
                row.pushed_rank = rank
            if points != row.pushed_points:
                client.set_customer_points(row.customer_id, points)
                row.pushed_points = points
        except SmaregiError as exc:
            row.push_error = str(exc)
            log.warning("smaregi push for shop=%s failed: %s", shop.domain, exc)
            if not exc.transient:
                continue
            break  # Smaregi is struggling: leave the rest for the next run
        row.push_due, row.push_error, row.pushed_at = False, None, utcnow()
        pushed += 1
    session.flush()
    return pushed
