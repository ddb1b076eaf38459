"""Members: search, the member page, and staff actions (points, rank floor, rewards, merges)."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import abort, g, render_template, request
from sqlalchemy import select

from app.admin import admin_url, bp
from app.admin.forms import Form, done, invalid, refused
from app.dashboard import member_detail, timeline
from app.extensions import db
from app.i18n import format_date, format_int, t
from app.install.embedded import embedded_page, session_fetch
from app.members import search as member_search
from app.members.records import lock_member
from app.models.member import IdentityReview, Member, MemberStatus, ReviewStatus
from app.models.types import utcnow
from app.points import spending
from app.shops.rules import load_rules

MAX_ADJUST = 1_000_000
REASON_MAX = 200


def _staff() -> str:
    """Who acted, for the ledger's reason: the admin user id from the session token (no name, no email)."""
    return f"staff:{(g.get('session_token') or {}).get('sub', '?')}"


def _member_or_404(member_id: int) -> Member:
    member = member_detail.member_for_shop(db.session, g.shop, member_id)
    if member is None:
        abort(404)
    return member


@bp.get("/members")
@embedded_page
def members():
    """Search by name fragment, email, phone (any notation) or member number."""
    query = (request.args.get("q") or "").strip()
    result = member_search.search(db.session, g.shop, query) if query else None
    recent = []
    if result is None:
        recent = list(
            db.session.scalars(
                select(Member)
                .where(Member.shop_id == g.shop.id, Member.status == MemberStatus.ACTIVE)
                .order_by(Member.id.desc())
                .limit(20)
            )
        )
    open_reviews = db.session.scalar(
        select(db.func.count()).where(
            IdentityReview.shop_id == g.shop.id, IdentityReview.status == ReviewStatus.OPEN
        )
    )
    return render_template(
        "admin/members.html",
        page_title=t("members.title"),
        query=query,
        result=result,
        recent=recent,
        open_reviews=open_reviews or 0,
    )


@bp.get("/members/<int:member_id>")
@embedded_page
def member(member_id: int):
    """The member page: timeline across channels, balances, metafields, staff actions.

    The timeline is paged: `before` / `after` are cursors from its older / newer links, and
    `period=imported` shows only the history from before the install.
    """
    shop = g.shop
    row = _member_or_404(member_id)
    if row.status == MemberStatus.MERGED and row.merged_into_id:
        row = _member_or_404(row.merged_into_id)
    period = timeline.IMPORTED if request.args.get("period") == timeline.IMPORTED else timeline.RECENT
    data = member_detail.detail(
        db.session,
        shop,
        row,
        period=period,
        before=timeline.decode_cursor(request.args.get("before")),
        after=timeline.decode_cursor(request.args.get("after")),
    )
    rules = load_rules(shop)
    return render_template(
        "admin/member.html",
        page_title=t("member.title", number=row.member_number),
        active_nav="admin.members",
        shop=shop,
        d=data,
        name=member_search.display_name(db.session, shop, row),
        tiers=[tier.handle for tier in rules.ranks.tiers],
        form_key=secrets.token_urlsafe(12),
        today=datetime.now(ZoneInfo(shop.timezone)).date(),
    )


@bp.post("/members/<int:member_id>/points")
@session_fetch
def adjust_points(member_id: int):
    """Staff adjustment: +/- points with a reason (a new ledger entry; nothing is edited)."""
    row = lock_member(db.session, _member_or_404(member_id).id)  # the balance checked below is current
    form = Form(request.form)
    points = form.integer("points", minimum=-MAX_ADJUST, maximum=MAX_ADJUST, nonzero=True)
    reason = form.text("reason", max_length=REASON_MAX)
    key = form.text("key", max_length=64)
    if not form.ok:
        return invalid(form)
    assert points is not None and reason is not None  # form.ok: both parsed
    if points < 0 and -points > row.points_available:
        form.error("points", "member.points_not_enough", available=format_int(row.points_available))
        return invalid(form)
    try:
        changed = spending.adjust(
            db.session, row, points, reason=reason, source_id=f"dashboard:{key}", now=utcnow(), actor=_staff()
        )
    except spending.InsufficientPoints:
        db.session.rollback()
        form.error("points", "member.points_not_enough", available=format_int(row.points_available))
        return invalid(form)
    db.session.commit()
    message = t("member.points_adjusted", points=f"{points:+,}") if changed else t("member.already_done")
    return done(message, reload=True)


@bp.post("/members/<int:member_id>/rank-floor")
@session_fetch
def rank_floor(member_id: int):
    """Keep the member at least at a rank until a date (固定ランク); an empty rank removes the floor."""
    from app.points.ranks import set_rank_floor

    shop = g.shop
    row = _member_or_404(member_id)
    tiers = [tier.handle for tier in load_rules(shop).ranks.tiers]
    form = Form(request.form)
    handle = form.choice("rank", ["", *tiers]) if request.form.get("rank") else ""
    zone = ZoneInfo(shop.timezone)
    today = datetime.now(zone).date()
    expires = form.day("expires", after=today) if handle else None
    if not form.ok:
        return invalid(form)
    # The floor holds through the whole of the chosen day in the shop's time zone.
    expires_at = datetime.combine(expires + timedelta(days=1), time(0), zone) if expires else None
    set_rank_floor(db.session, shop, row, handle or None, expires_at)
    db.session.commit()
    if handle:
        return done(t("member.floor_set", rank=handle, date=format_date(expires)), reload=True)
    return done(t("member.floor_removed"), reload=True)


@bp.post("/members/<int:member_id>/reward")
@session_fetch
def issue_reward(member_id: int):
    """Turn points into a single-use discount code for the member's Shopify customer."""
    from app.points import redemption
    from app.shopify.client import AdminClient
    from app.shopify.errors import ShopifyError
    from app.shopify.pacing import CostPacer

    shop = g.shop
    row = _member_or_404(member_id)
    form = Form(request.form)
    points = form.integer("points", minimum=1, maximum=MAX_ADJUST)
    key = form.text("key", max_length=64)
    if not form.ok:
        return invalid(form)
    assert points is not None  # form.ok: parsed
    if not row.shopify_customer_id:
        return refused(t("member.reward_needs_customer"))
    if points > row.points_available:
        form.error("points", "member.points_not_enough", available=format_int(row.points_available))
        return invalid(form)
    try:
        issued = redemption.redeem(
            db.session,
            shop,
            AdminClient(shop, session=db.session),
            CostPacer.for_plan(shop.plan),
            row.id,
            points,
            request_key=f"dashboard:{key}",
        )
    except redemption.InsufficientPoints:
        db.session.rollback()
        form.error("points", "member.points_not_enough", available=format_int(row.points_available))
        return invalid(form)
    except redemption.RedemptionConflict:
        db.session.rollback()
        return refused(t("member.reward_conflict"))
    except (redemption.RedemptionFailed, ShopifyError):
        db.session.rollback()
        return refused(t("member.reward_failed"), 502)
    return done(t("member.reward_issued", code=issued.code, points=format_int(issued.points)), reload=True)


@bp.post("/reviews/<int:review_id>/resolve")
@session_fetch
def resolve_review(review_id: int):
    """An identity review: link the store member to one candidate (a merge), or keep them apart."""
    from app.customers.merges import accept_review
    from app.members.identity import dismiss_review

    shop = g.shop
    review = db.session.get(IdentityReview, review_id)
    if review is None or review.shop_id != shop.id:
        abort(404)
    if review.status != ReviewStatus.OPEN:
        return refused(t("member.review_closed"))
    form = Form(request.form)
    decision = form.choice("decision", ("link", "dismiss"))
    target = None
    if decision == "link":
        target = form.choice("member_id", [str(c) for c in review.candidate_ids or []])
    if not form.ok:
        return invalid(form)
    if decision == "dismiss":
        dismiss_review(db.session, shop, review.id)
        db.session.commit()
        return done(t("member.review_dismissed"), reload=True)
    assert target is not None  # form.ok: a candidate was chosen
    accept_review(db.session, shop, review.id, int(target))
    db.session.commit()
    resolved = db.session.get(IdentityReview, review_id)
    survivor = resolved.resolved_member_id if resolved is not None else None
    return done(t("member.review_linked"), redirect=admin_url("admin.member", member_id=survivor))


@bp.post("/members/<int:member_id>/merge")
@session_fetch
def merge_suggestion(member_id: int):
    """Accept a merge suggestion (same phone or email): the store-only member folds into the Shopify one."""
    from app.customers.merges import merge_members

    shop = g.shop
    row = _member_or_404(member_id)
    suggestions = {str(m.id): m for m in member_detail.duplicates(db.session, shop, row)}
    form = Form(request.form)
    other_id = form.choice("other_id", list(suggestions))
    if not form.ok or other_id is None:
        return invalid(form)
    other = suggestions[other_id]
    if row.shopify_customer_id and other.shopify_customer_id:
        # Two Shopify customers: Shopify is the system of record, so Shopify merges (customerMerge) and its
        # customers/merge webhook then folds the members here. Merging only our side would leave Shopify
        # with two customers.
        from app.customers.shopify_merges import request_customer_merge
        from app.shopify.errors import ShopifyError

        try:
            request_customer_merge(shop, keep=row, fold=other)
        except ShopifyError:
            return refused(t("member.merge_in_shopify"), status=502)
        return done(t("member.merge_requested"), reload=True)
    survivor, merged = (
        (row, other) if row.shopify_customer_id or not other.shopify_customer_id else (other, row)
    )
    merge_members(db.session, shop, survivor.id, merged.id, key=f"dashboard:{merged.id}")
    db.session.commit()
    return done(t("member.merged"), redirect=admin_url("admin.member", member_id=survivor.id))
