"""Segments: standard and custom Shopify segments with live counts and queries; create from a template."""

from __future__ import annotations

from flask import g, render_template, request
from sqlalchemy import select

from app.admin import bp
from app.admin.forms import Form, done, invalid, refused
from app.extensions import db
from app.i18n import current_locale, t
from app.install.embedded import embedded_page, session_fetch
from app.members import mirror
from app.models.dashboard import DashboardSummary
from app.models.sync_state import SegmentStatus, ShopSegment
from app.shops.namespace import learn as learn_namespace
from app.shops.rules import load_rules

CUSTOM_KEYS = (
    "rank",
    "channel_mix",
    "points_balance",
    "spend_12m",
    "lifetime_spend",
    "purchase_count",
    "store_purchase_count",
    "online_purchase_count",
    "last_purchase_at",
    "last_store_visit_at",
    "points_expire_at",
    "line_linked",
)
CUSTOM_OPS = ("=", "!=", ">", ">=", "<", "<=")


def _shopify():
    from app.shopify.client import AdminClient
    from app.shopify.pacing import CostPacer

    return AdminClient(g.shop, session=db.session), CostPacer.for_plan(g.shop.plan)


def _shopify_unavailable():
    db.session.rollback()
    return refused(t("segments.shopify_unavailable"), 502)


def _created_or_refused(row: ShopSegment):
    """The answer once Shopify was asked to create a segment: created, or the reason it was not."""
    if row.status != SegmentStatus.CREATED:
        return refused(t("segments.refused", reason=row.error or row.status), 422)
    return done(t("segments.created", name=row.name), reload=True)


@bp.get("/segments")
@embedded_page
def segments():
    """Every segment the app made, the standard templates not yet created, and the custom-segment form."""
    from app.sync.segment_templates import standard_definitions
    from app.sync.segments import app_counts

    shop = g.shop
    rows = list(
        db.session.scalars(select(ShopSegment).where(ShopSegment.shop_id == shop.id).order_by(ShopSegment.id))
    )
    made = {r.handle for r in rows}
    templates = [d for d in standard_definitions(load_rules(shop).ranks) if d.handle not in made]
    summary = db.session.get(DashboardSummary, shop.id)
    counted = summary is not None and "segments" in summary.data and made <= set(summary.data["segments"])
    return render_template(
        "admin/segments.html",
        page_title=t("segments.title"),
        shop=shop,
        rows=rows,
        # The summary's counts when it covers every segment (large shops); else counted now.
        counts=summary.data["segments"] if summary and counted else app_counts(db.session, shop),
        counted_at=summary.computed_at if summary and counted else None,
        templates=templates,
        keys=CUSTOM_KEYS,
        ops=CUSTOM_OPS,
        mirror_on=mirror.is_on(shop),
        mirror_keys=sorted(mirror.DEFINITIONS),
    )


@bp.post("/segments/template")
@session_fetch
def create_from_template():
    """Create one standard segment in Shopify (checked with customerSegmentMembersQueryCreate first)."""
    from app.shopify.errors import ShopifyError
    from app.sync.segment_templates import standard_definitions
    from app.sync.segments import _existing_by_name, ensure_segment, fetch_filter_names

    shop = g.shop
    templates = {d.handle: d for d in standard_definitions(load_rules(shop).ranks, current_locale())}
    form = Form(request.form)
    handle = form.choice("handle", list(templates))
    if not form.ok or handle is None:
        return invalid(form)
    client, pacer = _shopify()
    namespace = learn_namespace(db.session, shop, client, pacer)  # None: Shopify could not say just now
    if namespace is None:
        return refused(t("segments.shopify_unavailable"), 502)
    try:
        row = ensure_segment(
            db.session,
            shop,
            client,
            pacer,
            templates[handle],
            fetch_filter_names(client, pacer, namespace),
            _existing_by_name(client, pacer),
        )
    except ShopifyError:
        return _shopify_unavailable()
    return _created_or_refused(row)


@bp.post("/segments/custom")
@session_fetch
def create_custom():
    """A merchant's own segment: a name and one or two conditions (AND)."""
    from app.shopify.errors import ShopifyError
    from app.sync.segment_templates import KEY_TYPES, SegmentDefinitionError
    from app.sync.segments import add_custom_segment

    shop = g.shop
    form = Form(request.form)
    name = form.text("name", max_length=100)
    conditions = []
    for i in (1, 2):
        if i == 2 and not (request.form.get("key2") or "").strip():
            break
        key = form.choice(f"key{i}", CUSTOM_KEYS)
        op = form.choice(f"op{i}", CUSTOM_OPS)
        value = form.text(f"value{i}", max_length=100)
        if key and op and value is not None:
            kind = KEY_TYPES[key]
            if kind in ("text", "boolean") and op not in ("=", "!="):
                form.error(f"op{i}", "segments.op_for_text")
            elif kind == "boolean" and value not in ("true", "false"):
                form.error(f"value{i}", "segments.value_boolean")
            conditions.append(
                {"key": key, "op": op, "value": (value == "true") if kind == "boolean" else value}
            )
    if not form.ok or name is None:
        return invalid(form)
    client, pacer = _shopify()
    try:
        row = add_custom_segment(db.session, shop, client, pacer, name, [conditions])
    except SegmentDefinitionError as exc:
        db.session.rollback()
        form.error("value1", "segments.invalid_condition", detail=str(exc))
        return invalid(form)
    except ShopifyError:
        return _shopify_unavailable()
    return _created_or_refused(row)


@bp.post("/segments/mirror")
@session_fetch
def metafield_mirror():
    """The opt-in copy of the scalar member fields into the merchant-owned `tsunagu` namespace."""
    form = Form(request.form)
    choice = form.choice("mirror", ("on", "off"))
    if not form.ok:
        return invalid(form)
    mirror.switch(db.session, g.shop, choice == "on")
    return done(t(f"segments.mirror_saved_{choice}"), reload=True)


@bp.post("/segments/recount")
@session_fetch
def recount():
    """Ask Shopify for each segment's member count, to compare with the app's own count."""
    from app.shopify.errors import ShopifyError
    from app.sync.segments import compare_counts

    client, pacer = _shopify()
    try:
        counts = compare_counts(db.session, g.shop, client, pacer)
    except ShopifyError:
        db.session.rollback()
        return refused(t("segments.shopify_unavailable"), 502)
    differ = sum(1 for c in counts if c.shopify_count is not None and not c.agrees)
    return done(t("segments.recounted", differ=differ), reload=True)
