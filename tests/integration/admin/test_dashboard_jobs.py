"""Nothing heavy in a request: "refresh now" queues a job for the worker; the home shows the import."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

from app.dashboard import jobs as dashboard_jobs
from app.i18n import catalogue
from app.models.dashboard import DashboardJob, DashboardSummary
from app.models.shop_jobs import BackfillJob
from app.models.types import utcnow
from tests.integration.admin.factories import member, purchase


def test_refresh_now_returns_at_once_and_the_worker_computes_the_summary(
    admin, installed, session, monkeypatch
):
    from app.dashboard import summary
    from app.dispatch import periodic

    computed: list[int] = []
    real = summary.compute_summary
    monkeypatch.setattr(
        summary, "compute_summary", lambda s, shop, now: computed.append(shop.id) or real(s, shop, now)
    )
    who = member(session, installed)
    purchase(session, installed, who, "4000", utcnow() - timedelta(days=1), "pos")
    session.query(DashboardSummary).delete()

    html = admin.html("/", "en")
    assert computed == []  # the page never computes the summary
    assert 'data-summary-job="first"' in html and 'data-not-ready="computing"' in html
    response = admin.post("/summary/refresh", {})
    body = response.get_json()
    assert response.status_code == 200 and computed == []
    assert "/summary/status" in body["html"] and "data-ts-poll" in body["html"]
    assert admin.post("/summary/refresh", {}).status_code == 200  # a second press reuses the waiting job
    jobs = session.query(DashboardJob).all()
    assert [(j.kind, j.status) for j in jobs] == [("summary", "queued")]
    waiting = admin.fetch("/summary/status?since=").get_json()
    assert waiting["finished"] is False and waiting["reload"] is False

    periodic()  # the worker's scheduled round

    assert computed == [installed.id]
    assert session.get(DashboardJob, jobs[0].id).status == "done"
    stored = session.get(DashboardSummary, installed.id)
    assert Decimal(stored.data["spend_by_channel"]["store"][-1]) == Decimal("4000")
    ready = admin.fetch("/summary/status?since=").get_json()
    assert ready["finished"] is True and ready["reload"] is True
    seen = admin.fetch(f"/summary/status?since={quote(stored.computed_at.isoformat())}").get_json()
    assert seen["reload"] is False
    page = admin.html("/", "ja")
    assert "data-not-ready" not in page and 'data-table="ranks"' in page


def test_home_shows_the_history_import_instead_of_zeros(admin, installed, session):
    dashboard_jobs.refresh_stale_summaries(session)
    session.add(
        BackfillJob(shop_id=installed.id, kind="orders", status="downloading", total=12000, done=3400)
    )
    session.flush()
    ja = admin.html("/", "ja")
    assert "履歴を取り込み中: 3,400 / 12,000" in ja
    assert 'data-not-ready="importing"' in ja and 'data-table="ranks"' not in ja
    assert 'data-ts-poll="/summary/status' in ja
    en = admin.html("/", "en")
    assert "History importing: 3,400 of 12,000" in en
    status = admin.fetch("/summary/status?since=").get_json()
    assert status["finished"] is False and status["reload"] is False  # new figures wait for the import
    assert catalogue("en")["home.importing_badge"] in status["html"]


def test_a_failing_job_is_recorded_and_the_next_one_still_runs(session, shop, monkeypatch):
    from app.dashboard import jobs

    first = jobs.enqueue(session, shop, jobs.RULES_PREVIEW, {"ranks": {"tiers": "not a list"}})
    second = jobs.enqueue(session, shop, jobs.SUMMARY)
    session.commit()
    assert jobs.run_queued_jobs(session) == 2
    assert session.get(DashboardJob, first.id).status == "failed"
    assert session.get(DashboardJob, first.id).error == "ValueError"
    assert session.get(DashboardJob, second.id).status == "done"
    assert jobs.summary_status(session, shop).failed is False  # the last summary job succeeded


def test_a_job_whose_worker_died_is_taken_again(session, shop):
    from app.dashboard import jobs

    job = jobs.enqueue(session, shop, jobs.SUMMARY)
    session.commit()
    claimed = jobs.claim(session, "w1", utcnow())
    assert claimed is not None and claimed.id == job.id
    assert jobs.claim(session, "w2", utcnow()) is None  # running elsewhere
    again = jobs.claim(session, "w2", utcnow() + jobs.STALE_RUNNING + timedelta(seconds=1))
    assert again is not None and again.id == job.id and again.locked_by == "w2"
