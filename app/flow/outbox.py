"""The Flow outbox: triggers queued where the event is seen, sent later with the shop's API budget.

A row is one event (its dedupe key is unique per shop), so however often an event is detected, Flow hears of
it once. Sending is at least once: a row whose answer was lost is sent again, which Flow cannot tell apart;
the dedupe key keeps that to a lost answer, never a second detection.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models.integrations import FlowTrigger, FlowTriggerStatus
from app.models.member import Member
from app.models.shop import Shop
from app.shopify.errors import ShopifyAuthError, ShopifyError, ShopifyUserErrors
from app.shopify.flow import send_trigger
from app.shopify.pacing import CostPacer

log = logging.getLogger(__name__)
BATCH = 50  # rows sent per shop and pass
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)


def enqueue(
    session: Session,
    shop: Shop,
    member: Member | None,
    handle: str,
    payload: dict[str, Any],
    key: str,
    now: datetime,
) -> None:
    """Queue one trigger; an event already queued (same dedupe key) adds nothing, even under a race."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    row = {
        "shop_id": shop.id,
        "member_id": member.id if member is not None else None,
        "handle": handle,
        "payload": payload,
        "dedupe_key": key,
        "status": FlowTriggerStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    session.execute(dialect.insert(FlowTrigger.__table__).values(row).on_conflict_do_nothing())


def due(session: Session, shop: Shop, now: datetime, limit: int = BATCH) -> list[FlowTrigger]:
    return list(
        session.scalars(
            select(FlowTrigger)
            .where(
                FlowTrigger.shop_id == shop.id,
                FlowTrigger.status == FlowTriggerStatus.PENDING,
                FlowTrigger.next_attempt_at <= now,
            )
            .order_by(FlowTrigger.id)
            .limit(limit)
        )
    )


def drain(session: Session, shop: Shop, client: Any, pacer: CostPacer, now: datetime) -> dict[str, int]:
    """Send the shop's due triggers, oldest first; each outcome is committed before the next call."""
    counts = {"sent": 0, "failed": 0, "retry": 0}
    for row in due(session, shop, now):
        row.attempts += 1
        try:
            send_trigger(client, pacer, row.handle, row.payload)
        except ShopifyUserErrors as exc:
            # Flow refused the trigger itself (unknown handle, payload not matching the extension's fields):
            # sending it again cannot succeed. The field names are kept, never the payload.
            row.status = FlowTriggerStatus.FAILED
            row.last_error = "userErrors: " + ", ".join(_fields(exc.user_errors))
            counts["failed"] += 1
        except ShopifyAuthError:
            session.rollback()  # the token is gone (uninstalled or revoked): the shop's rows wait
            log.warning("flow triggers for shop=%s deferred: Shopify refused the token", shop.domain)
            return counts
        except ShopifyError as exc:
            _retry_later(row, type(exc).__name__, now)
            counts["failed" if row.status == FlowTriggerStatus.FAILED else "retry"] += 1
        else:
            row.status = FlowTriggerStatus.SENT
            row.sent_at = now
            row.last_error = None
            counts["sent"] += 1
        session.commit()
    return counts


def _retry_later(row: FlowTrigger, error: str, now: datetime) -> None:
    row.last_error = error
    if row.attempts >= MAX_ATTEMPTS:
        row.status = FlowTriggerStatus.FAILED
        return
    row.next_attempt_at = now + min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (row.attempts - 1)))


def _fields(errors: list[Any]) -> list[str]:
    names = []
    for error in errors:
        field = error.get("field") if isinstance(error, dict) else None
        names.append(".".join(str(f) for f in field) if isinstance(field, list) else "?")
    return names
