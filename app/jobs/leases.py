"""Named per-shop leases: one holder at a time across processes, expiring when the holder dies."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models.shop_jobs import ShopLease
from app.models.types import rows_affected, utcnow


def new_holder_id(role: str = "syncer") -> str:
    """A holder id naming the process (for operators) plus a random part (for uniqueness)."""
    return f"{role}:{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(
    session: Session, shop_id: int, name: str, holder: str, ttl: timedelta, now: datetime | None = None
) -> bool:
    """Take or renew the lease; True when `holder` holds it until now + ttl. Commits."""
    now = now or utcnow()
    expires = now + ttl
    # A conditional UPDATE is the compare-and-swap: free, expired, or already ours.
    result = session.execute(
        update(ShopLease)
        .where(
            and_(
                ShopLease.shop_id == shop_id,
                ShopLease.name == name,
                or_(ShopLease.holder.is_(None), ShopLease.expires_at < now, ShopLease.holder == holder),
            )
        )
        .values(holder=holder, expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    if rows_affected(result) == 1:
        session.commit()
        return True
    session.rollback()
    if session.get(ShopLease, (shop_id, name)) is not None:
        return False
    try:
        session.add(ShopLease(shop_id=shop_id, name=name, holder=holder, expires_at=expires))
        session.commit()
        return True
    except IntegrityError:  # another process inserted the row first: it holds the lease
        session.rollback()
        return False


def release(session: Session, shop_id: int, name: str, holder: str) -> None:
    """Give the lease up (only if still ours). Commits."""
    session.execute(
        update(ShopLease)
        .where(ShopLease.shop_id == shop_id, ShopLease.name == name, ShopLease.holder == holder)
        .values(holder=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
