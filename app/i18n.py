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

from babel import dates, numbers
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


def format_int(value: int | Decimal | float | None, locale: str | None = None) -> str:
    """12,345 with the locale's grouping (CLDR); an em dash for no value."""
    if value is None:
        return "—"
    return numbers.format_decimal(int(value), locale=locale or current_locale())


def format_money(
    amount: Decimal | int | float | None, currency: str = "JPY", locale: str | None = None
) -> str:
    """An amount in any ISO 4217 currency as the locale writes it (CLDR): ￥12,000, ¥12,000, $12.34.

    Rounded half up to the currency's own minor unit (0 for JPY, 2 for USD) before Babel formats it.
    """
    if amount is None:
        return "—"
    currency = (currency or "JPY").upper()
    digits = numbers.get_currency_precision(currency)
    value = Decimal(str(amount)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    try:
        return numbers.format_currency(value, currency, locale=locale or current_locale())
    except (numbers.UnknownCurrencyFormatError, ValueError):  # a code CLDR does not know: still readable
        return f"{value} {currency}"


def format_percent(share: float | Decimal | None, digits: int = 1) -> str:
    """A share in 0..1 as `12.3%`."""
    if share is None:
        return "—"
    return f"{float(share) * 100:.{digits}f}%"


def format_date(value: date | datetime | None, tz: str = "Asia/Tokyo", locale: str | None = None) -> str:
    """2026年11月23日 / Nov 23, 2026 (CLDR `yMMMd`), in the shop's time zone for timestamps."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz)).date()
    return dates.format_skeleton("yMMMd", value, locale=locale or current_locale())


def format_datetime(value: datetime | None, tz: str = "Asia/Tokyo", locale: str | None = None) -> str:
    """2026年11月23日 14:05 / Nov 23, 2026 14:05, in the shop's time zone (24-hour clock in both)."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz))
    locale = locale or current_locale()
    return f"{format_date(local.date(), tz, locale)} {dates.format_skeleton('Hm', local, locale=locale)}"


def format_month(value: date, locale: str | None = None) -> str:
    """2026年11月 / Nov 2026 (CLDR `yMMM`)."""
    return dates.format_skeleton("yMMM", value, locale=locale or current_locale())


def init_i18n(app: Flask) -> None:
    """Expose `t`, the locale and the formatters to every template (as globals and as filters)."""
    app.jinja_env.filters.update(
        money=format_money,
        number=format_int,
        date=format_date,
        datetime=format_datetime,
        month=format_month,
        percent=format_percent,
    )
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
