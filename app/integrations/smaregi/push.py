"""The shared balance back to the Smaregi member, so the register shows the numbers the app computed.

A link is due when its member's `sync_version` differs from the version last pushed (any change a reader
sees moves it: a store or online earn, maturing, expiry, a redemption), or when ingest marked it
`push_due`. Pushing reads the member as it is at push time, so any number of changes between two passes
cost one write: the debounce. What Smaregi's member record can hold (developers.smaregi.dev
platform-api-reference, pos "会員ポイント更新" / "会員ポイント相対値更新"
https://developers.smaregi.dev/platform-api-reference/apis/pos/operations/postcustomerscustomeridpointadd):
`point` (the available balance) and `pointExpireDate` (when the next points expire). The member record has
no field for pending points; its `note` is the merchant's own free text, so it is left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from app.domain.history import local_date
from app.integrations.smaregi.client import SmaregiClient, SmaregiError
from app.members.identity import find_link
from app.members.projection import points_expire_at
from app.members.records import active_member
from app.models.integrations import SmaregiConnection, SmaregiCustomer
from app.models.ledger import PointLot
from app.models.member import ExternalLink, Member
from app.models.shop import Shop
from app.models.types import utcnow
from app.shops.rules import load_rules

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RegisterBalance:
    """What the register should show for one member."""

    points: int
    expires_on: date | None
    rank: str | None  # the merchant's Smaregi rank code, None when the tier has none


def member_of(session: Session, shop: Shop, customer: SmaregiCustomer) -> Member | None:
    """The app's member behind a Smaregi member (following merges), if identity linked one."""
    link = find_link(session, shop, "smaregi", external_id=customer.customer_id, code=customer.customer_code)
    return active_member(session, session.get(Member, link.member_id)) if link is not None else None


def register_balance(
    session: Session, shop: Shop, connection: SmaregiConnection, member: Member
) -> RegisterBalance:
    """The member's available points, next expiry date (shop-local) and Smaregi rank code."""
    lots = session.scalars(
        select(PointLot).where(PointLot.member_id == member.id, PointLot.remaining > 0)
    ).all()
    expires = local_date(points_expire_at(member, lots, load_rules(shop)), shop.timezone)
    return RegisterBalance(
        points=max(member.points_available, 0),
        expires_on=expires,
        rank=(connection.rank_codes or {}).get(member.rank),
    )


def _due_query(shop: Shop) -> Select[SmaregiCustomer, Member]:
    """Links whose member changed since the last push (or that ingest marked due), oldest link first."""
    return (
        select(SmaregiCustomer, Member)
        .outerjoin(
            ExternalLink,
            and_(
                ExternalLink.shop_id == SmaregiCustomer.shop_id,
                ExternalLink.source == "smaregi",
                ExternalLink.external_id == SmaregiCustomer.customer_id,
            ),
        )
        .outerjoin(Member, Member.id == ExternalLink.member_id)
        .where(
            SmaregiCustomer.shop_id == shop.id,
            SmaregiCustomer.deleted.is_(False),
            or_(
                SmaregiCustomer.push_due.is_(True),
                and_(
                    Member.id.is_not(None),
                    or_(
                        SmaregiCustomer.pushed_version.is_(None),
                        SmaregiCustomer.pushed_version != Member.sync_version,
                    ),
                ),
            ),
        )
        .order_by(SmaregiCustomer.id)
    )


def has_due(session: Session, shop: Shop) -> bool:
    """Whether any link waits for a push (one indexed query: a quiet shop costs nothing more)."""
    return session.execute(_due_query(shop).limit(1)).first() is not None


def push_due(session: Session, shop: Shop, client: SmaregiClient, limit: int = 200) -> int:
    """Push every due link; a transient failure stops the pass (retried next pass), a refusal is kept on the
    link with its reason and skipped until the member changes again. Returns links written."""
    connection = session.get(SmaregiConnection, shop.id)
    if connection is None or not connection.push_enabled:
        return 0
    pushed = 0
    for row, linked in session.execute(_due_query(shop).limit(limit)).all():
        member = active_member(session, linked) if linked is not None else member_of(session, shop, row)
        if member is None:
            row.push_due = False
            continue
        version = linked.sync_version if linked is not None else member.sync_version
        try:
            if _write(session, shop, connection, client, row, member):
                pushed += 1
        except SmaregiError as exc:
            row.push_error = str(exc)
            log.warning("smaregi push for shop=%s failed: %s", shop.domain, exc)
            if exc.transient:
                break  # Smaregi is struggling: leave the rest for the next pass
        else:
            row.push_error, row.pushed_at = None, utcnow()
        row.push_due, row.pushed_version = False, version
    session.flush()
    return pushed


def _write(
    session: Session,
    shop: Shop,
    connection: SmaregiConnection,
    client: SmaregiClient,
    row: SmaregiCustomer,
    member: Member,
) -> bool:
    """Write what differs from what the register was last given; True if anything was written."""
    want = register_balance(session, shop, connection, member)
    wrote = False
    if want.rank is not None and want.rank != row.pushed_rank:
        client.update_customer_rank(row.customer_id, want.rank)
        row.pushed_rank, wrote = want.rank, True
    if want.points != row.pushed_points or want.expires_on != row.pushed_expires_on:
        client.set_customer_points(row.customer_id, want.points, want.expires_on)
        row.pushed_points, row.pushed_expires_on, wrote = want.points, want.expires_on, True
    return wrote


def forget_pushed(row: SmaregiCustomer) -> None:
    """The register's values are unknown (drift found): the next pass writes them again."""
    row.pushed_points = row.pushed_rank = row.pushed_expires_on = None
    row.pushed_version, row.push_due = None, True


def last_pushed_at(session: Session, shop: Shop) -> datetime | None:
    """When a link was last pushed (for the settings page)."""
    return session.scalar(
        select(SmaregiCustomer.pushed_at)
        .where(SmaregiCustomer.shop_id == shop.id, SmaregiCustomer.pushed_at.is_not(None))
        .order_by(SmaregiCustomer.pushed_at.desc())
        .limit(1)
    )
