"""Staff identity work: the review queue (merge or keep apart, with a reason) and paper-card migration."""

from __future__ import annotations

from flask import abort, g, render_template, request

from app.admin import admin_url, bp
from app.admin.forms import Form, done, invalid, refused
from app.customers import card_migration, reviews
from app.extensions import db
from app.i18n import format_int, t
from app.install.embedded import embedded_page, session_fetch
from app.models.member import IdentityReview, ReviewStatus

REASON_MAX = 200
CODE_MAX = 64
FACTOR_MAX = 254  # the longest email address


def _actor() -> str:
    """Who acted: the admin user id from the session token (no name, no email)."""
    return f"staff:{(g.get('session_token') or {}).get('sub', '?')}"


@bp.get("/members/reviews")
@embedded_page
def reviews_queue():
    """Open identity reviews, oldest first, each store member beside its candidates."""
    try:
        page = int(request.args.get("page") or 1)
    except ValueError:
        page = 1
    queue = reviews.open_queue(db.session, g.shop, page)
    return render_template(
        "admin/reviews.html",
        page_title=t("reviews.title"),
        active_nav="admin.members",
        shop=g.shop,
        queue=queue,
    )


@bp.post("/members/reviews/<int:review_id>")
@session_fetch
def decide_review(review_id: int):
    """Merge the store member into one candidate, or keep them apart; both need a reason."""
    review = db.session.get(IdentityReview, review_id)
    if review is None or review.shop_id != g.shop.id:
        abort(404)
    form = Form(request.form)
    decision = form.choice("decision", ("merge", "keep_apart"))
    target = None
    if decision == "merge" and review.status == ReviewStatus.OPEN:
        target = form.choice("member_id", [str(c) for c in review.candidate_ids or []])
    reason = form.text("reason", max_length=REASON_MAX)
    if review.status != ReviewStatus.OPEN:
        return refused(t("reviews.already_resolved"))  # a second submit: nothing changes
    if not form.ok:
        return invalid(form)
    assert reason is not None  # form.ok
    chosen: reviews.Decision = "merge" if decision == "merge" else "keep_apart"
    try:
        outcome = reviews.decide(
            db.session,
            g.shop,
            review_id,
            chosen,
            reason=reason,
            actor=_actor(),
            member_id=int(target) if target else None,
        )
    except reviews.ReviewNotFound:
        abort(404)
    except ValueError:
        db.session.rollback()
        return refused(t("reviews.member_gone"))
    db.session.commit()
    if outcome == "already_resolved":
        return refused(t("reviews.already_resolved"))
    return done(t(f"reviews.done.{outcome}"), reload=True)


@bp.get("/members/cards")
@embedded_page
def card_migration_page():
    """Paper-card migration at the till: scan the card, ask the customer's phone or email, move it."""
    return render_template(
        "admin/cards.html",
        page_title=t("cards.title"),
        active_nav="admin.members",
        member_number=(request.args.get("member") or "")[:32],
        max_failures=card_migration.MAX_FAILURES,
        window_minutes=int(card_migration.WINDOW.total_seconds() // 60),
    )


@bp.post("/members/cards")
@session_fetch
def migrate_card():
    """Check the second factor and move the card to the member (once; a re-submit is a no-op)."""
    form = Form(request.form)
    code = form.text("card", max_length=CODE_MAX)
    factor = form.text("factor", max_length=FACTOR_MAX)
    number = form.text("member", max_length=32)
    if not form.ok:
        return invalid(form)
    assert code is not None and factor is not None and number is not None  # form.ok
    result = card_migration.migrate_card(
        db.session, g.shop, card_code=code, factor=factor, member_number=number, actor=_actor()
    )
    db.session.commit()  # a refused try is kept: it counts toward the card's limit
    if result.outcome in ("unknown_card", "unknown_member"):
        form.error("card" if result.outcome == "unknown_card" else "member", f"cards.{result.outcome}")
        return invalid(form)
    if result.outcome == "mismatch":
        form.error("factor", "cards.mismatch", left=format_int(result.failures_left or 0))
        return invalid(form)
    if result.outcome == "limited":
        minutes = int(card_migration.WINDOW.total_seconds() // 60)
        return refused(t("cards.limited", minutes=format_int(minutes)), 429)
    if result.outcome in ("no_factor", "other_customer"):
        return refused(t(f"cards.{result.outcome}"))
    assert result.member is not None  # migrated or already: the card's member
    url = admin_url("admin.member", member_id=result.member.id)
    return done(t(f"cards.done.{result.outcome}", number=result.member.member_number), redirect=url)
