"""What history means: which past purchases earn points (with a preview), and opening balances from a CSV."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import g, jsonify, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.admin import bp
from app.admin.forms import Form, done, invalid, refused
from app.domain.opening import MAX_BYTES, MAX_ROWS, Problem
from app.extensions import db
from app.i18n import format_int, negotiate, t
from app.install.embedded import embedded_page, session_fetch
from app.models.types import utcnow
from app.points import history, opening

UPLOAD_ENDPOINT = "admin.upload_opening"
MULTIPART_ALLOWANCE = 64 * 1024  # form boundaries and the other fields around the file
SHOWN_PROBLEMS = 200  # a report longer than this names the count of the rest


@bp.get("/settings/history")
@embedded_page
def history_settings():
    """The choice of past purchases that earn points, and the opening-balance upload."""
    shop = g.shop
    return render_template(
        "admin/history.html",
        page_title=t("history.title"),
        shop=shop,
        choice=history.current_choice(shop),
        today=utcnow().astimezone(ZoneInfo(shop.timezone)).date(),
        imports=opening.recent_imports(db.session, shop),
        rebuilds=history.open_rebuilds(db.session, shop),
        max_mb=MAX_BYTES // (1024 * 1024),
        max_rows=MAX_ROWS,
        active_nav="admin.history_settings",
    )


def parse_choice(form: Form) -> history.HistoryChoice | None:
    """The submitted choice, or None with field errors (a day is needed for "since", not in the future)."""
    mode = form.choice("mode", history.HISTORY_MODES)
    if mode != "since":
        return history.HistoryChoice(mode) if mode else None
    day = form.day("since_date")
    today = utcnow().astimezone(ZoneInfo(g.shop.timezone)).date()
    if day is not None and day > today:
        form.error("since_date", "history.since_future")
        return None
    return history.HistoryChoice(mode, day) if day else None


@bp.post("/settings/history/preview")
@session_fetch
def preview_history():
    """How many past purchases, members and points the submitted choice would make earn (nothing saved)."""
    form = Form(request.form)
    choice = parse_choice(form)
    if choice is None:
        return invalid(form)
    result = history.preview(db.session, g.shop, history.cutoff_for(g.shop, choice))
    html = render_template("admin/_history_preview.html", p=result)
    return done(t("history.previewed", points=format_int(result.proposed.points)), html=html)


@bp.post("/settings/history")
@session_fetch
def save_history():
    """Store the choice and rebuild the members it concerns (in the worker when they are many)."""
    form = Form(request.form)
    choice = parse_choice(form)
    if choice is None:
        return invalid(form)
    outcome = history.save_choice(db.session, g.shop, history.cutoff_for(g.shop, choice))
    db.session.commit()
    if not outcome.changed:
        return done(t("history.unchanged"))
    key = "history.saved_queued" if outcome.queued else "history.saved"
    return done(t(key, members=format_int(outcome.members)), reload=True)


@bp.before_request
def _allow_opening_upload() -> None:
    """The opening-balance file may be larger than the app's usual request cap (set per request)."""
    if request.endpoint == UPLOAD_ENDPOINT:
        request.max_content_length = MAX_BYTES + MULTIPART_ALLOWANCE


@bp.post("/settings/history/opening")
@session_fetch
def upload_opening():
    """Check an opening-balance CSV; apply every row or none, and answer with a line-numbered report."""
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        # The form is unreadable, so the language comes from the query or the page script's header.
        header = request.headers.get("X-Tsunagu-Locale")
        locale = negotiate(request.args.get("locale")) or negotiate(header) or "en"
        message = t("opening.problem.too_large", locale=locale, max=MAX_BYTES // (1024 * 1024))
        return refused(message, 413)
    if upload is None or not upload.filename:
        form = Form({})
        form.error("file", "opening.choose_file")
        return invalid(form)
    data = upload.read(MAX_BYTES + 1)
    outcome = opening.import_opening_balances(db.session, g.shop, upload.filename, data)
    db.session.commit()
    record = outcome.record
    problems = [_problem_text(p) for p in outcome.problems]
    html = render_template(
        "admin/_opening_report.html",
        outcome=outcome,
        record=record,
        problems=problems[:SHOWN_PROBLEMS],
        more=max(0, len(problems) - SHOWN_PROBLEMS),
        shop_timezone=g.shop.timezone,
    )
    if outcome.status == "rejected":
        message = t("opening.rejected", count=format_int(len(problems)))
        return jsonify(ok=False, message=message, errors={}, html=html), 422
    if outcome.status == "already_applied":
        return done(t("opening.already_applied", id=record.id), html=html)
    return done(
        t("opening.applied", rows=format_int(record.rows), points=format_int(record.points)), html=html
    )


def _problem_text(problem: Problem) -> tuple[int | None, str]:
    """(line, message) of a problem in the user's language."""
    column = t(f"opening.column.{problem.column}") if problem.column else ""
    message = t(
        f"opening.problem.{problem.code}",
        column=column,
        other=problem.other_line or "",
        max=MAX_BYTES // (1024 * 1024) if problem.code == "too_large" else format_int(MAX_ROWS),
    )
    return problem.line, message
