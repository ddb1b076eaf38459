"""Rules with preview, month-end close with CSV, dead-letter retry, backfill progress, through the routes."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.i18n import catalogue
from app.models import BackfillJob, InboxEvent, MonthEndClose, Shop
from app.models.types import utcnow
from app.points import spending
from app.shops.rules import load_rules, save_rules
from tests.integration.admin.factories import history_imported, member, purchase

DEFAULT_FORM = {
    "rate_percent": "1",
    "pending_days": "14",
    "expiry_days": "365",
    "expiry_mode": "last_activity",
    "negative_policy": "allow_negative",
    "basis": "spend",
    "window": "rolling_365",
    "cycle_start_month": "1",
    "downgrade_timing": "immediate",
    "downgrade_step": "reset",
    "tier_handle_0": "regular", "tier_threshold_0": "0", "tier_multiplier_0": "1.0",
    "tier_handle_1": "silver", "tier_threshold_1": "30000", "tier_multiplier_1": "1.2",
    "tier_handle_2": "gold", "tier_threshold_2": "100000", "tier_multiplier_2": "1.5",
    "tier_handle_3": "platinum", "tier_threshold_3": "300000", "tier_multiplier_3": "2.0",
}  # fmt: skip


def test_rule_preview_is_queued_and_the_worker_produces_it(admin, installed, session, monkeypatch):
    from app.dispatch import periodic
    from app.members import records
    from app.models.dashboard import DashboardJob

    evaluated: list[int] = []
    real_facts = records.member_facts
    monkeypatch.setattr(
        "app.points.ranks.member_facts", lambda s, m: evaluated.append(m.id) or real_facts(s, m)
    )
    who = member(session, installed)
    purchase(session, installed, who, "15000", utcnow() - timedelta(days=10), "pos")
    preview = admin.post("/settings/rules/preview", {**DEFAULT_FORM, "tier_threshold_1": "10000"})
    body = preview.get_json()
    # The request only queued the work: no member was evaluated, the fragment polls the job.
    assert preview.status_code == 200 and "up" not in body and evaluated == []
    job = session.get(DashboardJob, body["job"])
    assert job.status == "queued" and job.kind == "rules_preview"
    assert f"/settings/rules/preview/{job.id}" in body["html"] and "data-ts-poll" in body["html"]
    waiting = admin.fetch(f"/settings/rules/preview/{job.id}").get_json()
    assert waiting["finished"] is False and 'data-preview-state="queued"' in waiting["html"]

    periodic()  # the worker's scheduled round

    assert evaluated == [who.id]
    result = admin.fetch(f"/settings/rules/preview/{job.id}").get_json()
    assert result["finished"] is True and result["up"] == 1 and result["down"] == 0
    assert 'data-up="1"' in result["html"]
    assert session.get(DashboardJob, job.id).progress_done == 1
    assert load_rules(installed).ranks.tiers[1].threshold == 30000


def test_another_shops_preview_is_not_found(admin, installed, session):
    from app.dashboard.jobs import RULES_PREVIEW, enqueue
    from app.models.shop import Shop

    other = Shop(domain="other-shop.myshopify.com", name="Other")
    session.add(other)
    session.flush()
    job = enqueue(session, other, RULES_PREVIEW, {"ranks": {}})
    assert admin.fetch(f"/settings/rules/preview/{job.id}").status_code == 404


def test_rules_are_validated_field_by_field_in_the_users_language(admin, installed):
    ja = catalogue("ja")
    response = admin.post(
        "/settings/rules/preview",
        {**DEFAULT_FORM, "tier_threshold_1": "0", "rate_percent": "abc", "tier_handle_2": "ゴールド"},
        "ja",
    )
    errors = response.get_json()["errors"]
    assert response.status_code == 422
    assert errors["rate_percent"] == ja["form.number"]
    assert errors["tier_threshold_1"] == ja["rules.threshold_rise"]
    assert errors["tier_handle_2"] == ja["rules.handle_format"]


def test_saving_rules_keeps_ranks_until_the_next_evaluation(admin, installed, session):
    who = member(session, installed, rank="regular")
    response = admin.post(
        "/settings/rules", {**DEFAULT_FORM, "tier_threshold_1": "20000", "rate_percent": "2"}
    )
    assert response.status_code == 200 and response.get_json()["reload"] is True
    session.refresh(installed)
    rules = load_rules(installed)
    assert rules.ranks.tiers[1].threshold == 20000 and str(rules.points.rate) == "0.02"
    session.refresh(who)
    assert who.rank == "regular"


def test_saving_rules_keeps_what_other_pages_chose(admin, installed, session):
    """Points for past purchases and the birthday metafield are set elsewhere; the rules form keeps them."""
    since = datetime(2026, 1, 1, tzinfo=UTC)
    base = load_rules(installed)
    save_rules(
        session,
        installed,
        replace(
            base,
            points=replace(base.points, earn_since=since),
            members=replace(base.members, birthday_metafield="custom.birthday"),
        ),
    )
    assert admin.post("/settings/rules", {**DEFAULT_FORM, "rate_percent": "2"}).status_code == 200
    session.refresh(installed)
    rules = load_rules(installed)
    assert str(rules.points.rate) == "0.02"
    assert rules.points.earn_since == since
    assert rules.members.birthday_metafield == "custom.birthday"


def test_month_end_close_freezes_the_csv(admin, installed, session):
    who = member(session, installed)
    local_now = utcnow().astimezone()
    first_of_month = datetime(local_now.year, local_now.month, 1, tzinfo=UTC)
    last_month = first_of_month - timedelta(days=10)
    period = f"{last_month:%Y-%m}"
    spending.adjust(session, who, 700, reason="welcome", source_id="t1", now=last_month)
    spending.adjust(session, who, -200, reason="fix", source_id="t2", now=last_month + timedelta(days=1))
    history_imported(session, installed)
    session.commit()  # the routes share this session; a refused request's rollback must not undo the setup
    not_over = admin.post("/reports/close", {"period": f"{utcnow():%Y-%m}"}, "en")
    assert not_over.status_code == 422
    assert not_over.get_json()["errors"]["period"] == catalogue("en")["reports.not_over"]

    assert admin.post("/reports/close", {"period": period}).status_code == 200
    again = admin.post("/reports/close", {"period": period}, "ja")
    assert again.get_json()["errors"]["period"] == catalogue("ja")["reports.already_closed"]

    download = admin.fetch(f"/reports/{period}.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    month = next(r for r in rows if r[0] == "month")
    assert rows[0][8] == "adjusted" and rows[0][13] == "outstanding"
    assert month[1] == period and month[8] == "500" and month[13] == "500"
    assert [r for r in rows if r[0] == "rank"] == [["rank", "regular", *[""] * 12, "1", "", "", ""]]
    stored = session.scalar(select(MonthEndClose).where(MonthEndClose.shop_id == installed.id))
    assert stored.trigger == "staff"
    assert admin.fetch("/reports/1999-01.csv").status_code == 404


def test_csv_of_another_shop_is_not_served(admin, installed, session):
    other = Shop(domain="other-shop.myshopify.com", name="Other")
    session.add(other)
    session.flush()
    session.add(MonthEndClose(shop_id=other.id, period="2026-01", csv="secret"))
    session.flush()
    assert admin.fetch("/reports/2026-01.csv").status_code == 404


def _dead(session, shop, **fields):
    row = InboxEvent(
        shop_id=shop.id, shop_domain=shop.domain, topic="orders/create", delivery_id=f"d-{id(fields)}",
        payload="{}", status="dead", attempts=8, last_error="NormaliseError: no line items", **fields,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def test_dead_letters_are_listed_and_retried(admin, installed, session):
    row = _dead(session, installed)
    html = admin.html("/sync", "ja")
    assert f'data-dead="{row.id}"' in html and "no line items" in html
    response = admin.post(f"/sync/dead-letters/{row.id}/retry", {})
    assert response.status_code == 200
    session.refresh(row)
    assert row.status == "pending" and row.attempts == 0


def test_dead_letters_of_another_shop_cannot_be_retried(admin, installed, session):
    other = Shop(domain="other-shop.myshopify.com", name="Other")
    session.add(other)
    session.flush()
    row = _dead(session, other)
    assert admin.post(f"/sync/dead-letters/{row.id}/retry", {}).status_code == 404
    assert f'data-dead="{row.id}"' not in admin.html("/sync")


def test_backfill_progress_reports_rate_and_eta(admin, installed, session):
    started = utcnow() - timedelta(seconds=100)
    session.add(
        BackfillJob(
            shop_id=installed.id,
            kind="orders",
            status="downloading",
            total=1000,
            done=200,
            started_at=started,
        )
    )
    session.flush()
    body = admin.fetch("/backfill/progress").get_json()
    job = body["jobs"][0]
    assert body["finished"] is False
    assert job["done"] == 200 and job["share"] == 0.2
    assert 1.5 < job["rate_per_s"] < 2.5 and 300 < job["eta_seconds"] < 500
    assert 'data-done="200"' in body["html"]


def test_polled_progress_answers_in_the_pages_language(admin, installed, session):
    session.add(BackfillJob(shop_id=installed.id, kind="orders", status="downloading", total=10, done=1))
    session.flush()
    headers = {"Authorization": f"Bearer {admin.mint()}", "Accept-Language": "en-US"}
    ja = admin.client.get("/backfill/progress", headers={**headers, "X-Tsunagu-Locale": "ja"}).get_json()
    assert catalogue("ja")["backfill.kind.orders"] in ja["html"]
    en = admin.client.get("/backfill/progress?locale=en", headers=headers).get_json()
    assert catalogue("en")["backfill.kind.orders"] in en["html"]


def test_closed_month_lists_ranks_lowest_tier_first(admin, installed, session):
    session.add(
        MonthEndClose(
            shop_id=installed.id,
            period="2026-01",
            data={"period": "2026-01", "days": [], "totals": dict.fromkeys(
                ("earned", "reversed", "redeemed", "expired", "adjusted", "other"), 0),
                "opening": 0, "closing": 0, "ranks": {"gold": 2, "regular": 5, "vip-old": 1}},
        )
    )  # fmt: skip
    session.flush()
    html = admin.html("/reports", "en")
    snapshot = html.split("data-rank-snapshot>", 1)[1].split("</dl>", 1)[0]
    labels = [part.split("</dt>", 1)[0] for part in snapshot.split("<dt>")[1:]]
    assert labels == ["Regular", "Silver", "Gold", "Platinum", "vip-old"]
