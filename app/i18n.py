"""Japanese and English for the dashboard: the admin's `locale` param, a flat catalogue, formats."""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request

log = logging.getLogger(__name__)

SUPPORTED = ("ja", "en")
DEFAULT_LOCALE = "en"
CATALOGUE_DIR = Path(__file__).resolve().parent / "translations"
# A BCP 47 tag as the admin sends it (`ja`, `en-US`, `pt-BR`); only the language part decides here.
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{2,8})*$")


class MissingTranslation(KeyError):
    """A message key that one of the catalogues lacks (raised while testing, logged in production)."""


@cache
def catalogue(locale: str) -> dict[str, str]:
    """The flat key -> message dict of one locale, read once per process."""
    with open(CATALOGUE_DIR / f"{locale}.json", encoding="utf-8") as fh:
        data = json.load(fh)
    return {str(k): str(v) for k, v in data.items()}


def negotiate(tag: str | None) -> str | None:
    """The supported locale for a BCP 47 tag, or None when the tag is missing, malformed or unsupported."""
    if not tag:
        return None
    match = _TAG.match(tag.strip())
    if not match:
        return None
    language = match.group(1).lower()
    return language if language in SUPPORTED else None


def resolve_locale() -> str:
    """The request's locale: the admin's `locale` (query or form), then Accept-Language, then English.

    Shopify appends `locale` to the app URL on every admin load; our own links and forms carry it on.
    """
    for candidate in (request.args.get("locale"), request.form.get("locale") if request.form else None):
        found = negotiate(candidate)
        if found:
            return found
    header = request.headers.get("X-Tsunagu-Locale")
    if negotiate(header):
        return negotiate(header) or DEFAULT_LOCALE
    best = request.accept_languages.best_match(SUPPORTED)
    return best or DEFAULT_LOCALE


def current_locale() -> str:
    """The locale of the current request (resolved once per request), or the default outside one."""
    if not has_request_context():
        return DEFAULT_LOCALE
    # Cached on the request itself (not `g`, which outlives a request when an app context is already pushed).
    environ = request.environ
    if "tsunagu.locale" not in environ:
        environ["tsunagu.locale"] = resolve_locale()
    return environ["tsunagu.locale"]


def translate(key: str, locale: str | None = None, **params: Any) -> str:
    """The message for `key` in `locale` (default: the request's), with `{name}` placeholders filled."""
    locale = locale or current_locale()
    messages = catalogue(locale)
    if key not in messages:
        if current_app and current_app.config.get("TESTING"):
            raise MissingTranslation(f"{locale}:{key}")
        log.warning("missing translation %s:%s", locale, key)
        messages = catalogue(DEFAULT_LOCALE)
    message = messages.get(key, key)
    return message.format(**params) if params else message


t = translate


def translate_or(key: str, default: str, locale: str | None = None) -> str:
    """The message for `key` if the catalogue has it, else `default` (merchant-named things: rank handles)."""
    return catalogue(locale or current_locale()).get(key, default)


def format_int(value: int | Decimal | float | None) -> str:
    """12,345 (both locales group by thousands); an em dash for no value."""
    if value is None:
        return "—"
    return f"{int(value):,}"


def format_money(
    amount: Decimal | int | float | None, currency: str = "JPY", locale: str | None = None
) -> str:
    """¥12,345 / 12,345円 for yen (no minor unit); two decimals for other currencies."""
    if amount is None:
        return "—"
    locale = locale or current_locale()
    value = Decimal(str(amount))
    if currency == "JPY":
        whole = f"{int(value.quantize(Decimal('1'), rounding=ROUND_HALF_UP)):,}"
        return f"{whole}円" if locale == "ja" else f"¥{whole}"
    text = f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    return f"{text} {currency}"


def format_percent(share: float | Decimal | None, digits: int = 1) -> str:
    """A share in 0..1 as `12.3%`."""
    if share is None:
        return "—"
    return f"{float(share) * 100:.{digits}f}%"


def format_date(value: date | datetime | None, tz: str = "Asia/Tokyo", locale: str | None = None) -> str:
    """2026年11月23日 / 2026-11-23, in the shop's time zone for timestamps."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz)).date()
    locale = locale or current_locale()
    if locale == "ja":
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()


def format_datetime(value: datetime | None, tz: str = "Asia/Tokyo", locale: str | None = None) -> str:
    """2026年11月23日 14:05 / 2026-11-23 14:05, in the shop's time zone."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz))
    return f"{format_date(local.date(), tz, locale)} {local:%H:%M}"


def format_month(value: date, locale: str | None = None) -> str:
    """2026年11月 / 2026-11."""
    locale = locale or current_locale()
    return f"{value.year}年{value.month}月" if locale == "ja" else f"{value:%Y-%m}"


def init_i18n(app: Flask) -> None:
    """Expose `t`, the locale and the formatters to every template."""
    app.jinja_env.globals.update(
        t=translate,
        t_or=translate_or,
        rank_label=lambda handle: translate_or(f"rank.{handle}", handle),
        current_locale=current_locale,
        format_int=format_int,
        format_money=format_money,
        format_percent=format_percent,
        format_date=format_date,
        format_datetime=format_datetime,
        format_month=format_month,
    )
