"""The dashboard's scheduled work, for the worker's periodic hook: month-end closes and home summaries."""

from __future__ import annotations

import logging
from datetime import datetime

from app.dashboard.reports import close_due_months
from app.dashboard.summary import refresh_stale_summaries
from app.extensions import db
from app.models.types import utcnow

log = logging.getLogger(__name__)


def run_scheduled_reports(now: datetime | None = None) -> dict[str, int]:
    """Close months that ended, refresh stale home summaries (cheap when nothing is due; commits itself)."""
    now = now or utcnow()
    done = {
        "closed": close_due_months(db.session, now),
        "summaries": refresh_stale_summaries(db.session, now),
    }
    if any(done.values()):
        log.info("dashboard jobs: %s", done)
    return done
