"""The member's own pages behind the app proxy: points (schedules, history), purchases, redemption.

Every request, GET or POST, is verified like the card (app/proxy/verify.py): the shop and the customer come
from the query Shopify signed, never from the form or the path.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, make_response, render_template, request

from app.extensions import db
from app.i18n import format_date, format_int, format_money
from app.members.identity import member_for_customer
from app.models.member import Member
from app.models.types import utcnow
from app.points.redemption import DEFAULT_VALIDITY, value_of
from app.proxy import birthday
from app.proxy.points import history, schedules
from app.proxy.purchases import purchases
from app.proxy.redeem import (
    MAX_POINTS,
    Refused,
    allowed,
    choices,
    issue,
    open_codes,
    read_token,
    step,
    token_for,
)
from app.proxy.text import language, texts
from app.proxy.verify import ProxyContext, verified
from app.proxy.views import bp, login_page, private


def _member(ctx: ProxyContext) -> Member:
    assert ctx.customer_id is not None
    member = member_for_customer(db.session, ctx.shop, ctx.customer_id)
    if member is None:
        abort(404)  # a redacted customer has no page
    return member


def _page(ctx: ProxyContext, template: str, nav: str, status: int = 200, **values: Any) -> Response:
    lang = language()
    body = render_template(
        template,
        t=texts(lang),
        lang=lang,
        nav=nav,
        prefix=ctx.path_prefix,
        shop_name=ctx.shop.name or ctx.shop.domain,
        **values,
    )
    db.session.commit()  # the member may have been created on first view
    return private(make_response(body, status))


def _cursor(name: str) -> str | None:
    return (request.args.get(name) or "")[:40] or None


def _points(ctx: ProxyContext, notice: str | None = None, status: int = 200) -> Response:
    assert ctx.customer_id is not None
    member, lang, tz = _member(ctx), language(), ctx.shop.timezone or "Asia/Tokyo"
    maturing, expiring = schedules(db.session, member, utcnow(), tz, lang)
    page = history(db.session, member, tz, lang, before=_cursor("before"), after=_cursor("after"))
    return _page(
        ctx,
        "proxy/points.html",
        "points",
        status,
        member=member,
        maturing=maturing,
        expiring=expiring,
        page=page,
        birth=birthday.block_for(ctx.shop, ctx.customer_id, member, lang),
        notice=texts(lang)[notice] if notice else None,
        error=status >= 400,
    )


@bp.get("/points")
def points_page():
    """Balance, what becomes available and what expires when, and the points history a page at a time."""
    ctx = verified()
    if ctx.customer_id is None:
        return login_page()
    return _points(ctx)


@bp.post("/birth-month")
def birth_month_submit():
    """The shopper's birth month, taken once (app/proxy/birthday.py); the points page shows the outcome."""
    ctx = verified()
    if ctx.customer_id is None:
        return login_page()
    notice, status = birthday.submit(ctx.shop, ctx.customer_id, _member(ctx), request.form, utcnow())
    return _points(ctx, notice, status)


@bp.get("/purchases")
def purchases_page():
    """Purchases online and in store, newest first, a page at a time."""
    ctx = verified()
    if ctx.customer_id is None:
        return login_page()
    member, lang, tz = _member(ctx), language(), ctx.shop.timezone or "Asia/Tokyo"
    currency = ctx.shop.currency or "JPY"
    page = purchases(db.session, member, currency, tz, lang, before=_cursor("before"), after=_cursor("after"))
    return _page(ctx, "proxy/purchases.html", "purchases", page=page)


def _picker(ctx: ProxyContext, member: Member, notice: str | None = None, status: int = 200) -> Response:
    lang, shop = language(), ctx.shop
    text = texts(lang)
    unit = step(shop)
    currency = shop.currency or "JPY"
    codes = [
        (
            row,
            text["code_until"].format(
                value=format_money(row.amount, row.currency or currency, lang),
                date=format_date(row.expires_at, shop.timezone or "Asia/Tokyo", lang),
            ),
        )
        for row in open_codes(db.session, member, utcnow())
    ]
    message = None
    if notice:
        message = text[notice].format(
            available=format_int(member.points_available, lang),
            step=format_int(unit, lang),
            max=format_int(MAX_POINTS, lang),
        )
    return _page(
        ctx,
        "proxy/redeem.html",
        "redeem",
        status,
        member=member,
        choices=[
            (p, format_money(value_of(shop, p), currency, lang))
            for p in choices(shop, member.points_available)
        ],
        help=text["redeem_help"].format(
            step=format_int(unit, lang), value=format_money(value_of(shop, unit), currency, lang)
        ),
        short=max(unit - member.points_available, 0),
        codes=codes,
        notice=message,
        error=status >= 400,
    )


@bp.get("/redeem")
def redeem_page():
    """Pick an amount; with `points` chosen, the confirmation carrying a token for exactly that request."""
    ctx = verified()
    if ctx.customer_id is None:
        return login_page()
    member, lang, shop = _member(ctx), language(), ctx.shop
    raw = request.args.get("points")
    if raw is None:
        return _picker(ctx, member)
    points = int(raw) if raw.isdigit() and len(raw) <= 7 else 0
    if not allowed(shop, points):
        return _picker(ctx, member, "redeem_bad_amount", 422)
    if points > member.points_available:
        return _picker(ctx, member, "redeem_not_enough", 422)
    text, tz = texts(lang), shop.timezone or "Asia/Tokyo"
    value = format_money(value_of(shop, points), shop.currency or "JPY", lang)
    return _page(
        ctx,
        "proxy/confirm.html",
        "redeem",
        question=text["redeem_confirm"].format(points=format_int(points, lang), value=value),
        note=text["redeem_confirm_note"].format(date=format_date(utcnow() + DEFAULT_VALIDITY, tz, lang)),
        token=token_for(shop, ctx.customer_id, points),
    )


@bp.post("/redeem")
def redeem_submit():
    """Issue the code of a confirmed request (the same code again for a repeated submit)."""
    ctx = verified()
    if ctx.customer_id is None:
        return login_page()
    member, lang, shop = _member(ctx), language(), ctx.shop
    try:
        wanted = read_token(shop, ctx.customer_id, request.form.get("token", "")[:400])
        row = issue(db.session, shop, member, wanted)
    except Refused as refused:
        db.session.refresh(member)
        return _picker(ctx, member, refused.message, refused.status)
    db.session.refresh(member)
    tz = shop.timezone or "Asia/Tokyo"
    return _page(
        ctx,
        "proxy/issued.html",
        "redeem",
        code=row.code,
        value=format_money(row.amount, row.currency or shop.currency or "JPY", lang),
        help=texts(lang)["redeem_code_help"].format(date=format_date(row.expires_at, tz, lang)),
        member=member,
    )
