"""The member's rank and how far the next one is, written in the shopper's language and the shop's unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from app.domain.progress import RankProgress, progress
from app.i18n import format_date, format_int, format_money
from app.members.records import member_facts
from app.models.member import Member
from app.models.shop import Shop
from app.proxy.text import rank_name, texts
from app.shops.rules import load_rules


@dataclass(frozen=True, slots=True)
class Standing:
    """The rank block of the member page."""

    rank: str
    message: str  # 「シルバーまであと18,000円」, "¥18,000 more to Silver", or the top-rank line
    share: float  # 0..1, for the progress bar
    window: str  # which purchases count
    top: bool


def amount_text(value: Decimal, currency: str, lang: str) -> str:
    """Money as the shopper reads it: 18,000円 in Japanese prose for yen, ¥18,000 / $12.34 otherwise."""
    if lang == "ja" and currency.upper() == "JPY":
        return f"{format_int(value, lang)}円"
    return format_money(value, currency, lang)


def describe(p: RankProgress, currency: str, tz: str, lang: str) -> Standing:
    """The progress as text: one line per basis, the window it counts, or the top-rank line."""
    t = texts(lang)
    if p.window == "rolling_365":
        window = t["window_rolling"]
    else:
        window = t["window_yearly"].format(date=format_date(p.window_start, tz, lang))
    if p.next is None or p.remaining is None:
        return Standing(rank_name(p.current, lang), t["progress_top"], 1.0, window, True)
    upcoming = rank_name(p.next, lang)
    if p.basis == "spend":
        message = t["progress_spend"].format(rank=upcoming, amount=amount_text(p.remaining, currency, lang))
    elif p.basis == "points":
        message = t["progress_points"].format(rank=upcoming, count=format_int(p.remaining, lang))
    else:
        key = "progress_count_one" if p.remaining == 1 else "progress_count"
        message = t[key].format(rank=upcoming, count=format_int(p.remaining, lang))
    return Standing(rank_name(p.current, lang), message, p.share, window, False)


def standing(session: Session, shop: Shop, member: Member, now: datetime, lang: str) -> Standing:
    """The member's standing under the shop's current rules."""
    rules = load_rules(shop)
    tz = shop.timezone or "Asia/Tokyo"
    facts = member_facts(session, member)
    p = progress(facts, rules.ranks, rules.points.rate, member.rank, now, tz)
    return describe(p, shop.currency or "JPY", tz, lang)
