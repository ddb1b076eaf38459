"""Ranks and points: every rule of the shop, validated, with a preview of how many members would move."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

from flask import g, jsonify, render_template, request

from app.admin import bp
from app.admin.forms import Form, done, invalid
from app.dashboard import jobs as dashboard_jobs
from app.domain.settings import (
    DOWNGRADE_STEPS,
    DOWNGRADE_TIMINGS,
    EXPIRY_MODES,
    NEGATIVE_POLICIES,
    RANK_BASES,
    RANK_WINDOWS,
    RankRules,
    RulesError,
    ShopRules,
    Tier,
)
from app.extensions import db
from app.i18n import t
from app.install.embedded import embedded_page, session_fetch
from app.shops.rules import load_rules, save_rules

MAX_TIERS = 8
SPARE_ROWS = 2
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@bp.get("/settings/rules")
@embedded_page
def rules():
    """The rules form, filled with the shop's current rules."""
    current = load_rules(g.shop)
    rows = list(current.ranks.tiers)
    spare = max(0, min(SPARE_ROWS, MAX_TIERS - len(rows)))
    return render_template(
        "admin/rules.html",
        page_title=t("rules.title"),
        shop=g.shop,
        r=current,
        rate_percent=(current.points.rate * 100).normalize(),
        tier_rows=[*rows, *([None] * spare)],
        choices={
            "expiry_mode": EXPIRY_MODES,
            "negative_policy": NEGATIVE_POLICIES,
            "basis": RANK_BASES,
            "window": RANK_WINDOWS,
            "downgrade_timing": DOWNGRADE_TIMINGS,
            "downgrade_step": DOWNGRADE_STEPS,
        },
    )


def parse_rules(form: Form, base: ShopRules) -> ShopRules | None:
    """The submitted rules, or None with field errors (what the form does not show is kept as it is)."""
    rate = form.decimal("rate_percent", minimum=Decimal("0"), maximum=Decimal("100"))
    pending_days = form.integer("pending_days", minimum=0, maximum=365)
    expiry_days = form.integer("expiry_days", minimum=1, maximum=3650)
    expiry_mode = form.choice("expiry_mode", EXPIRY_MODES)
    negative_policy = form.choice("negative_policy", NEGATIVE_POLICIES)
    basis = form.choice("basis", RANK_BASES)
    window = form.choice("window", RANK_WINDOWS)
    cycle = form.integer("cycle_start_month", minimum=1, maximum=12)
    timing = form.choice("downgrade_timing", DOWNGRADE_TIMINGS)
    step = form.choice("downgrade_step", DOWNGRADE_STEPS)
    tiers = _parse_tiers(form)
    if not form.ok or not tiers:
        return None
    try:
        return ShopRules(
            # Settings other pages own (points for past purchases, the birthday metafield) are kept.
            points=replace(
                base.points,
                rate=(rate / 100).normalize(),  # type: ignore[operator, union-attr]  # form.ok: parsed
                pending_days=pending_days,  # type: ignore[arg-type]  # form.ok: parsed
                expiry_days=expiry_days,  # type: ignore[arg-type]  # form.ok: parsed
                expiry_mode=expiry_mode,  # type: ignore[arg-type]  # form.ok: parsed
                negative_policy=negative_policy,  # type: ignore[arg-type]  # form.ok: parsed
            ),
            ranks=RankRules(
                tiers=tuple(tiers),
                basis=basis,  # type: ignore[arg-type]  # form.ok: parsed
                window=window,  # type: ignore[arg-type]  # form.ok: parsed
                cycle_start_month=cycle,  # type: ignore[arg-type]  # form.ok: parsed
                downgrade_timing=timing,  # type: ignore[arg-type]  # form.ok: parsed
                downgrade_step=step,  # type: ignore[arg-type]  # form.ok: parsed
            ),
            channels=base.channels,
            members=base.members,
        ).validate()
    except RulesError as exc:  # the domain's last word (our checks above should have caught it)
        form.error("tiers", "rules.inconsistent", detail=str(exc))
        return None


def _parse_tiers(form: Form) -> list[Tier]:
    """Tier rows in order; blank rows are skipped, every kept row must be complete and thresholds rise."""
    tiers: list[Tier] = []
    for i in range(MAX_TIERS):
        fields = (f"tier_handle_{i}", f"tier_threshold_{i}", f"tier_multiplier_{i}")
        if not any((form.data.get(f) or "").strip() for f in fields):
            continue
        handle = form.text(fields[0], max_length=32)
        if handle is not None and not _HANDLE.match(handle):
            form.error(fields[0], "rules.handle_format")
            handle = None
        threshold = form.decimal(fields[1], minimum=Decimal("0"), maximum=Decimal("1000000000"))
        multiplier = form.decimal(fields[2], minimum=Decimal("0.1"), maximum=Decimal("10"))
        if handle and threshold is not None and multiplier is not None:
            if tiers and threshold <= tiers[-1].threshold:
                form.error(fields[1], "rules.threshold_rise")
            elif not tiers and threshold != 0:
                form.error(fields[1], "rules.first_threshold_zero")
            elif any(t_.handle == handle for t_ in tiers):
                form.error(fields[0], "rules.handle_unique")
            else:
                tiers.append(Tier(handle, threshold, multiplier))
    if not tiers and "tiers" not in form.errors:
        form.error("tiers", "rules.need_tier")
    return tiers


@bp.post("/settings/rules/preview")
@session_fetch
def preview_rules():
    """Queue a preview of how many members the submitted rank rules would move (nothing is saved): every
    member's history is evaluated, so the worker does it; the answer is a fragment that polls for it."""
    form = Form(request.form)
    new = parse_rules(form, load_rules(g.shop))
    if new is None:
        return invalid(form)
    job = dashboard_jobs.enqueue(
        db.session, g.shop, dashboard_jobs.RULES_PREVIEW, {"ranks": new.to_json()["ranks"]}
    )
    db.session.commit()
    html = render_template("admin/_rules_preview.html", job=job, p=None, poll=True)
    return done(t("rules.preview_queued"), html=html, job=job.id)


@bp.get("/settings/rules/preview/<int:job_id>")
@session_fetch
def preview_result(job_id: int):
    """What the preview fragment polls: progress while the worker evaluates, then the result."""
    job = dashboard_jobs.job_for(db.session, g.shop, job_id)
    if job is None or job.kind != dashboard_jobs.RULES_PREVIEW:
        return jsonify(ok=False, message=t("rules.preview_missing")), 404
    p = dashboard_jobs.preview_result(job)
    html = render_template("admin/_rules_preview.html", job=job, p=p, poll=False)
    extra = {"up": p.up, "down": p.down} if p is not None else {}
    return jsonify(html=html, finished=job.finished, status=job.status, **extra)


@bp.post("/settings/rules")
@session_fetch
def save():
    """Store the rules; existing ranks stay until each member's next evaluation (the domain's contract)."""
    form = Form(request.form)
    new = parse_rules(form, load_rules(g.shop))
    if new is None:
        return invalid(form)
    save_rules(db.session, g.shop, new)
    db.session.commit()
    return done(t("rules.saved"), reload=True)
