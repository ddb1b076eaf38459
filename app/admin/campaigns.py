"""The campaigns page: create, preview, start, stop and see the results of point campaigns.

Dates are whole days in the shop's time zone: a campaign runs from the start of its first day to the end of
its last day (stored as the next day's midnight, exclusive).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import abort, g, render_template, request, url_for

from app.admin import bp
from app.admin.forms import Form, done, invalid, refused
from app.analytics.campaigns import Effect
from app.analytics.view import ALL, analytics_view
from app.campaigns import results as campaign_results
from app.campaigns import store
from app.domain.campaigns import KINDS, MAX_HOLDOUT_PCT, MAX_MULTIPLIER, REWARDS
from app.domain.channels import CHANNELS
from app.extensions import db
from app.i18n import format_int, t, translate_or
from app.install.embedded import embedded_page, session_fetch
from app.models.rewards import Campaign, CampaignStatus
from app.models.shop import Shop
from app.models.types import utcnow
from app.points.campaigns import preview

FIXED_KINDS = tuple(k for k in KINDS if k != "multiplier")
WEEKDAYS = tuple(range(7))  # Monday first, as Python and the rules count them
# Fields only a draft may change: posted for a started campaign, they are refused with the reason.
RULE_FIELDS = (
    "kind",
    "starts_at",
    "multiplier",
    "bonus_points",
    "channels",
    "locations",
    "ranks",
    "weekdays",
    "lapse_days",
    "bonus_expiry_days",
    "reward",
    "code_kind",
    "code_value",
    "code_valid_days",
    "holdout_pct",
)


def _campaign_or_404(campaign_id: int) -> Campaign:
    row = store.campaign_for(db.session, g.shop, campaign_id)
    if row is None:
        abort(404)
    return row


def _today(tz: str) -> date:
    return utcnow().astimezone(ZoneInfo(tz)).date()


def _midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz))


def last_day(ends_at: datetime | None, tz: str) -> date | None:
    """The last day a campaign runs (its exclusive end is the next day's midnight)."""
    return None if ends_at is None else (ends_at - timedelta(microseconds=1)).astimezone(ZoneInfo(tz)).date()


def _ends_at(form: Form, tz: str) -> datetime | None:
    last = form.day("ends_at", required=False)
    return None if last is None else _midnight(last + timedelta(days=1), tz)


def _budget(form: Form) -> int | None:
    return form.integer("budget", required=False, minimum=1, maximum=store.MAX_BUDGET)


def parse_settings(form: Form, tz: str) -> store.Settings | None:
    """The submitted draft, reading only the fields its kind and reward use (None with field errors)."""
    name = form.text("name", max_length=store.NAME_MAX)
    kind = form.choice("kind", KINDS)
    first = form.day("starts_at")
    ends_at = _ends_at(form, tz)
    # A multiplier always rewards points (the form hides the choice for it).
    reward = form.choice("reward", REWARDS) if kind != "multiplier" else "points"
    multiplier, bonus, lapse_days, expiry_days = None, 0, None, None
    code_kind, code_value, code_days = None, None, None
    if kind == "multiplier":
        multiplier = form.decimal("multiplier", minimum=Decimal("1.01"), maximum=MAX_MULTIPLIER)
    elif reward == "points":
        bonus = form.integer("bonus_points", minimum=1, maximum=store.MAX_BONUS) or 0
    if kind == "lapsing":
        lapse_days = form.integer("lapse_days", minimum=1, maximum=store.MAX_DAYS)
    if kind in store.EXPIRY_KINDS and reward == "points":
        expiry_days = form.integer("bonus_expiry_days", required=False, minimum=1, maximum=store.MAX_DAYS)
    if reward == "code":
        code_kind = form.choice("code_kind", store.CODE_KINDS)
        if code_kind in ("amount", "percentage"):
            code_value = form.decimal("code_value", minimum=Decimal("0.01"), maximum=store.MAX_CODE_VALUE)
        code_days = form.integer("code_valid_days", minimum=1, maximum=store.MAX_CODE_DAYS)
    budget = _budget(form)
    holdout = form.integer("holdout_pct", required=False, minimum=0, maximum=MAX_HOLDOUT_PCT) or 0
    weekdays = _many("weekdays")
    if not set(weekdays) <= {str(d) for d in WEEKDAYS}:
        form.error("weekdays", "form.choice")
    if not form.ok or name is None or kind is None or first is None or reward is None:
        return None
    return store.Settings(
        name=name,
        kind=kind,
        starts_at=_midnight(first, tz),
        ends_at=ends_at,
        multiplier=multiplier,
        bonus_points=bonus,
        channels=tuple(_many("channels")),
        locations=tuple(_many("locations")),
        ranks=tuple(_many("ranks")),
        weekdays=tuple(int(w) for w in weekdays),
        lapse_days=lapse_days,
        bonus_expiry_days=expiry_days,
        reward=reward,
        code_kind=code_kind,
        code_value=code_value,
        code_valid_days=code_days,
        budget=budget,
        holdout_pct=holdout,
    )


def _many(name: str) -> list[str]:
    return [v.strip() for v in request.form.getlist(name) if v.strip()]


def _rejected(form: Form, exc: store.CampaignInvalid):
    db.session.rollback()
    for name, (key, params) in exc.errors.items():
        form.error(name, key, **params)
    return invalid(form)


def _choices() -> dict[str, object]:
    shop = g.shop
    return {
        "kinds": KINDS,
        "fixed_kinds": FIXED_KINDS,
        "rewards": REWARDS,
        "code_kinds": store.CODE_KINDS,
        "channels": [(ch, t(f"channel.{ch}")) for ch in CHANNELS],
        "weekdays": [(d, t(f"campaigns.weekday.{d}")) for d in WEEKDAYS],
        "ranks": [(h, translate_or(f"rank.{h}", h)) for h in store.rank_handles(shop)],
        "locations": store.known_locations(db.session, shop),
        "max_multiplier": MAX_MULTIPLIER,
        "max_holdout": MAX_HOLDOUT_PCT,
    }


@bp.get("/campaigns")
@embedded_page
def campaigns():
    """Every campaign of the shop with its reach, and the form for a new one."""
    shop = g.shop
    rows = store.campaigns(db.session, shop)
    today = _today(shop.timezone)
    blank = store.Settings(name="", kind="multiplier", starts_at=_midnight(today, shop.timezone))
    return render_template(
        "admin/campaigns.html",
        page_title=t("campaigns.title"),
        shop=shop,
        rows=rows,
        summaries=campaign_results.summaries(db.session, shop),
        budget_used=campaign_results.budget_used,
        last_day=last_day,
        s=blank,
        first_day=today,
        c=_choices(),
    )


@bp.post("/campaigns")
@session_fetch
def create_campaign():
    """A new draft; the answer sends the page to the draft, where it can be previewed and started."""
    form = Form(request.form)
    settings = parse_settings(form, g.shop.timezone)
    if settings is None:
        return invalid(form)
    try:
        row = store.create(db.session, g.shop, settings, utcnow())
    except store.CampaignInvalid as exc:
        return _rejected(form, exc)
    db.session.commit()
    return done(t("campaigns.created", name=row.name), redirect=url_for("admin.campaign", campaign_id=row.id))


@bp.get("/campaigns/<int:campaign_id>")
@embedded_page
def campaign(campaign_id: int):
    """One campaign: its settings (editable while a draft), a preview, its results, start and stop."""
    shop = g.shop
    row = _campaign_or_404(campaign_id)
    settings = store.settings_of(row)
    return render_template(
        "admin/campaign.html",
        page_title=t("campaigns.detail_title", name=row.name),
        active_nav="admin.campaigns",
        shop=shop,
        campaign=row,
        s=settings,
        first_day=row.starts_at.astimezone(ZoneInfo(shop.timezone)).date(),
        last_day=last_day,
        r=campaign_results.results(db.session, shop, row),
        effect=_effect(shop, row.id),
        draft=row.status == CampaignStatus.DRAFT,
        c=_choices(),
    )


def _effect(shop: Shop, campaign_id: int) -> Effect | None:
    """The campaign's comparison with its holdout as the worker last computed it for /analytics."""
    stored = analytics_view(db.session, shop, ALL).campaigns
    return next((e for e in stored if e.campaign_id == campaign_id), None)


@bp.post("/campaigns/<int:campaign_id>")
@session_fetch
def update_campaign(campaign_id: int):
    """Save a draft's settings, or a started campaign's name, end and budget (its rules are fixed)."""
    shop = g.shop
    row = _campaign_or_404(campaign_id)
    form = Form(request.form)
    now = utcnow()
    try:
        if row.status == CampaignStatus.DRAFT:
            settings = parse_settings(form, shop.timezone)
            if settings is None:
                return invalid(form)
            store.update(db.session, shop, row, settings, now)
        else:
            if any(name in request.form for name in RULE_FIELDS):
                return refused(t("campaigns.error.rules_locked"))
            name = form.text("name", max_length=store.NAME_MAX)
            ends_at = _ends_at(form, shop.timezone)
            budget = _budget(form)
            if not form.ok or name is None:
                return invalid(form)
            store.amend(db.session, shop, row, store.Amendment(name, ends_at, budget), now)
    except store.CampaignInvalid as exc:
        return _rejected(form, exc)
    except store.CampaignLocked as exc:
        db.session.rollback()
        return refused(t(exc.key))
    db.session.commit()
    return done(t("campaigns.saved"), reload=True)


@bp.post("/campaigns/<int:campaign_id>/preview")
@session_fetch
def preview_campaign(campaign_id: int):
    """Who the campaign would reach and what it would cost, on the members' history so far."""
    shop = g.shop
    row = _campaign_or_404(campaign_id)
    p = preview(db.session, shop, row, utcnow())
    db.session.rollback()  # a preview changes nothing
    html = render_template("admin/_campaign_preview.html", p=p, shop=shop, campaign=row)
    return done(t("campaigns.preview_ready"), html=html, members=p.members, points=p.points)


@bp.post("/campaigns/<int:campaign_id>/start")
@session_fetch
def start_campaign(campaign_id: int):
    """Start a draft now (or on its start day, when that is later)."""
    row = _campaign_or_404(campaign_id)
    try:
        revisited = store.start(db.session, g.shop, row, utcnow())
    except store.CampaignInvalid as exc:
        db.session.rollback()
        key, params = next(iter(exc.errors.values()))
        return refused(t(key, **params))
    except store.CampaignLocked as exc:
        db.session.rollback()
        return refused(t(exc.key))
    return done(t("campaigns.started", members=format_int(revisited)), reload=True)


@bp.post("/campaigns/<int:campaign_id>/stop")
@session_fetch
def stop_campaign(campaign_id: int):
    """Stop a running campaign; what it already gave stays."""
    row = _campaign_or_404(campaign_id)
    try:
        store.stop(db.session, g.shop, row, utcnow())
    except store.CampaignLocked as exc:
        db.session.rollback()
        return refused(t(exc.key))
    db.session.commit()
    return done(t("campaigns.stopped"), reload=True)
