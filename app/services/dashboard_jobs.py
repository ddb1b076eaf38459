"""The dashboard's scheduled work, for the worker's periodic hook: month-end closes and home summaries."""

from __future__ import annotations

import logging
from datetime import datetime

from app.extensions import db
from app.models.types import utcnow
from app.services.dashboard import refresh_stale_summaries
from app.services.reports import close_due_months

log = logging.getLogger(__name__)


def run_due(now: datetime | None = None) -> dict[str, int]:
    """Close months that ended, refresh stale home summaries (cheap when nothing is due; commits itself)."""
    now = now or utcnow()
    done = {
        "closed": close_due_months(db.session, now),
        "summaries": refresh_stale_summaries(db.session, now),
    }
    if any(done.values()):
        log.info("dashboard jobs: %s", done)
    return done
