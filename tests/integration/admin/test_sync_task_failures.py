"""The sync-health page shows a syncer task that keeps failing for this shop, with its backoff."""

from __future__ import annotations

from app.jobs import task_backoff
from app.models.types import utcnow


def test_a_failing_syncer_task_is_shown_with_its_next_try(admin, installed, session):
    now = utcnow()
    task_backoff.record_failure(session, installed.id, "redemptions", TypeError("x"), now, None)
    failure = task_backoff.record_failure(
        session,
        installed.id,
        "redemptions",
        TypeError("x"),
        now,
        task_backoff.failures(session, installed.id)["redemptions"],
    )
    assert failure.count == 2
    html = admin.html("/sync", locale="en")
    assert "Syncer tasks failing" in html and "redemptions" in html and "TypeError" in html
    assert "ショップで失敗したタスク" in admin.html("/sync", locale="ja")


def test_no_failure_section_while_every_task_runs(admin, installed, session):
    assert "Syncer tasks failing" not in admin.html("/sync", locale="en")
