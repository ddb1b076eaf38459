"""Test helpers: deliver Smaregi webhooks through the real view and run the recorded rows' handlers."""

from __future__ import annotations

from sqlalchemy import select

from app.dispatch import dispatch
from app.integrations.smaregi.views import SECRET_HEADER
from app.members.identity import find_link
from app.members.records import active_member
from app.models.inbox import InboxEvent, InboxStatus
from app.models.member import Member
from tests.integration.store.conftest import CONTRACT, WEBHOOK_SECRET


def deliver(client, smaregi, event: str, action: str, ids: list[str], event_id: str | None = None):
    """POST one Smaregi webhook (as Smaregi would) to the app; returns the response."""
    headers, body = smaregi.webhook(CONTRACT, event, action, ids, event_id)
    headers[SECRET_HEADER] = WEBHOOK_SECRET
    return client.post("/integrations/smaregi/webhooks", data=body, headers=headers)


def work(session) -> int:
    """Process pending Smaregi inbox rows in id order, one transaction each, through the worker's dispatch."""
    done = 0
    rows = session.scalars(
        select(InboxEvent)
        .where(InboxEvent.source == "smaregi", InboxEvent.status == InboxStatus.PENDING)
        .order_by(InboxEvent.id)
    ).all()
    for row in rows:
        row.status = dispatch(session, row)  # the worker's own dispatch: the handler table must reach us
        session.commit()
        done += 1
    return done


def store_member(session, shop, code: str) -> Member | None:
    """The app's member behind a Smaregi customerCode (following merges)."""
    link = find_link(session, shop, "smaregi", external_id=None, code=code)
    return active_member(session, session.get(Member, link.member_id)) if link else None
