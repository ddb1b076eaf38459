"""GET /proxy/card (member card), POST /proxy/card/link (paper card), GET /proxy/line (LINE account link)."""

from __future__ import annotations

import re
from typing import TypeVar

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from app.domain.identity import member_barcode_svg, member_qr_svg
from app.extensions import db
from app.integrations.line.accountlink import chat_url, dialog_url, valid_link_token
from app.integrations.line.accountlink import text as line_link_text
from app.integrations.smaregi.cards import link_paper_card
from app.members.identity import member_for_customer
from app.models.integrations import LineConnection, LineLink
from app.models.types import utcnow
from app.proxy.card import card_view
from app.proxy.standing import standing
from app.proxy.text import language, rank_name, texts
from app.proxy.verify import ProxyContext, verified

bp = Blueprint("proxy", __name__, url_prefix="/proxy")

LINK_MESSAGES = {
    "linked": "linked",
    "pending": "link_pending",
    "mismatch": "link_failed",
    "limited": "link_limited",
}


AnyResponse = TypeVar("AnyResponse", bound=BaseResponse)  # a rendered page or a redirect


def private(response: AnyResponse) -> AnyResponse:
    # One customer's card: never cached by Shopify's proxy, a CDN or the browser's shared cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


_SIZE = re.compile(r'\s(width|height)="([\d.]+)(mm|px)?"')
PX_PER_MM = 96 / 25.4  # CSS reference pixels


def _inline(svg: str) -> str:
    """An SVG document as scalable inline markup: no XML prolog, and a viewBox instead of a fixed size.

    The generators write absolute sizes (python-barcode in mm, segno in px) and no viewBox, so CSS could not
    scale them; a phone screen needs the barcode wide enough for a register's scanner.
    """
    svg = svg[svg.index("<svg") :]
    head, rest = svg.split(">", 1)
    sizes = {
        name: float(value) * (PX_PER_MM if unit == "mm" else 1) for name, value, unit in _SIZE.findall(head)
    }
    if "viewBox" not in head and {"width", "height"} <= sizes.keys():
        head = _SIZE.sub("", head) + f' viewBox="0 0 {sizes["width"]:.3f} {sizes["height"]:.3f}"'
    return head + ">" + rest


def login_page() -> Response:
    """Asked without a logged-in customer: the storefront's login, nothing about anyone."""
    lang = language()
    body = render_template("proxy/login.html", t=texts(lang), lang=lang, login_url="/account/login")
    return private(make_response(body, 401))


def _render(ctx: ProxyContext, notice: str | None = None, status: int = 200) -> Response:
    lang = language()
    text = texts(lang)
    if ctx.customer_id is None:
        return login_page()
    member = member_for_customer(db.session, ctx.shop, ctx.customer_id)
    if member is None:
        abort(404)  # a redacted customer has no card
    now = utcnow()
    view = card_view(db.session, ctx.shop, member, now, lang)
    line = db.session.get(LineConnection, ctx.shop.id)
    linked = db.session.scalar(
        db.select(LineLink).where(
            LineLink.shop_id == ctx.shop.id, LineLink.shopify_customer_id == ctx.customer_id
        )
    )
    body = render_template(
        "proxy/card.html",
        t=text,
        lang=lang,
        card=view,
        rank_name=rank_name(view.rank, lang),
        shop_name=ctx.shop.name or ctx.shop.domain,
        barcode=Markup(_inline(member_barcode_svg(view.member_number))),  # noqa: S704 - SVG we generated
        qr=Markup(_inline(member_qr_svg(view.member_number))),  # noqa: S704 - SVG we generated
        prefix=ctx.path_prefix,
        nav="card",
        standing=standing(db.session, ctx.shop, member, now, lang),
        notice=text[notice] if notice else None,
        line_available=line is not None and bool(line.bot_basic_id),
        line_linked=linked is not None and linked.opted_out_at is None,
    )
    db.session.commit()  # the member may have been created on first view
    return private(make_response(body, status))


@bp.get("/card")
def card():
    """The member card of the logged-in customer (the shop and customer come from the signed query only)."""
    return _render(verified())


@bp.post("/card/link")
def link_card():
    """Paper-card linking: card number + phone checked against the store member record."""
    ctx = verified()
    if ctx.customer_id is None:
        return _render(ctx)
    outcome = link_paper_card(
        db.session,
        ctx.shop,
        ctx.customer_id,
        request.form.get("card_number", "")[:32],
        request.form.get("phone", "")[:32],
    )
    db.session.commit()
    return _render(ctx, LINK_MESSAGES[outcome], 200 if outcome in ("linked", "pending") else 422)


@bp.get("/line")
def line_link():
    """LINE's account link (app/integrations/line/accountlink.py), for the logged-in customer only.

    With the `linkToken` the chat's button carries: a nonce for this customer, then LINE's dialog. Without
    (the card's button): the shop's chat with 「連携」 typed in, which answers with that button.
    """
    ctx = verified()
    lang = language()
    if ctx.customer_id is None:
        body = render_template(
            "proxy/line_link.html", t=line_link_text(lang), lang=lang, login_url="/account/login"
        )
        return private(make_response(body, 401))
    link_token = request.args.get("linkToken")
    if link_token is not None and not valid_link_token(link_token):
        abort(400)
    if link_token is None:
        target = chat_url(db.session, ctx.shop, lang)
    else:
        target = dialog_url(db.session, ctx.shop, ctx.customer_id, link_token, lang)
        db.session.commit()
    if target is None:
        abort(404)  # the shop has no LINE account connected
    return private(redirect(target, 302))
