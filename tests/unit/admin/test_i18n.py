"""The ja and en catalogues: same keys, same placeholders, every key the dashboard uses exists."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from app.i18n import catalogue, format_date, format_datetime, format_money, format_month, negotiate

ROOT = Path(__file__).resolve().parents[3]
# t('key'), t("key", ...), form.error("field", "key"): literal keys in templates and admin views.
LITERAL = re.compile(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]|form\.error\([^,]+,\s*["']([a-z0-9_.]+)["']""")


def _placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def test_both_catalogues_have_the_same_keys_and_placeholders():
    ja, en = catalogue("ja"), catalogue("en")
    assert set(ja) == set(en)
    for key in en:
        assert _placeholders(ja[key]) == _placeholders(en[key]), key


def test_every_literal_key_used_by_the_dashboard_exists():
    sources = [*ROOT.glob("templates/admin/*.html"), *ROOT.glob("app/admin/*.py")]
    used = {a or b for path in sources for a, b in LITERAL.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 150
    used = {k for k in used if not k.endswith((".", "_"))}  # prefixes completed at run time (tested below)
    missing = sorted(used - set(catalogue("en")))
    assert missing == []


@pytest.mark.parametrize(
    "prefix, values",
    [
        ("mix.", ["omni", "store_only", "online_only", "none"]),
        ("channel.", ["online", "pos", "external_pos", "app", "other"]),
        ("health.status.", ["ok", "warning", "critical"]),
        ("reports.col.", ["opening", "earned", "reversed", "redeemed", "expired", "imported", "adjusted"]),
        ("reports.col.", ["other", "pending", "available", "held", "outstanding"]),
        ("reports.hold.", ["history_not_started", "history_running", "history_failed", "inbox_waiting"]),
        ("reports.hold.", ["rebuild_running"]),
        ("reports.reason.", ["late_entries", "changed_entries"]),
        ("rules.opt.basis.", ["spend", "points", "count"]),
        ("rules.opt.window.", ["rolling_365", "yearly"]),
        ("rules.opt.downgrade_timing.", ["immediate", "next_cycle"]),
        ("rules.opt.downgrade_step.", ["reset", "one_tier"]),
        ("rules.opt.expiry_mode.", ["last_activity", "per_lot"]),
        ("rules.opt.negative_policy.", ["allow_negative", "claw_back_pending"]),
        ("segments.kind_", ["standard", "custom"]),
        ("reports.trigger.", ["schedule", "staff"]),
        ("backfill.kind.", ["orders", "customers"]),
    ],
)
def test_keys_built_from_values_exist_for_every_value(prefix, values):
    for value in values:
        assert prefix + value in catalogue("ja")


def test_domain_choices_all_have_labels():
    from app.domain import settings

    for name, options in {
        "basis": settings.RANK_BASES,
        "window": settings.RANK_WINDOWS,
        "downgrade_timing": settings.DOWNGRADE_TIMINGS,
        "downgrade_step": settings.DOWNGRADE_STEPS,
        "expiry_mode": settings.EXPIRY_MODES,
        "negative_policy": settings.NEGATIVE_POLICIES,
    }.items():
        for option in options:
            assert f"rules.opt.{name}.{option}" in catalogue("en")


@pytest.mark.parametrize(
    "tag, expected",
    [
        ("ja", "ja"),
        ("ja-JP", "ja"),
        ("en-US", "en"),
        ("EN", "en"),
        ("pt-BR", None),
        ("", None),
        ("../x", None),
    ],
)
def test_admin_locale_tags_are_negotiated(tag, expected):
    assert negotiate(tag) == expected


def test_money_and_dates_are_written_as_each_language_does_cldr():
    # Babel's CLDR data: the Japanese locale writes the yen sign full-width, English half-width.
    assert format_money(Decimal("12000.4"), "JPY", "ja") == "￥12,000"
    assert format_money(Decimal("12000.5"), "JPY", "en") == "¥12,001"  # half up to the currency's unit
    assert format_money(Decimal("12.34"), "USD", "en") == "$12.34"
    assert format_money(Decimal("19.9"), "USD", "en") == "$19.90"
    assert format_money(Decimal("19.9"), "EUR", "en") == "€19.90"
    assert format_money(Decimal("1234.5"), "USD", "ja") == "$1,234.50"
    assert format_money(None, "USD", "en") == "—"
    assert format_date(date(2026, 11, 3), locale="ja") == "2026年11月3日"
    assert format_date(date(2026, 11, 3), locale="en") == "Nov 3, 2026"
    assert format_month(date(2026, 11, 1), locale="ja") == "2026年11月"
    assert format_month(date(2026, 11, 1), locale="en") == "Nov 2026"
    at = datetime(2026, 10, 31, 16, 5, tzinfo=UTC)  # already 1 November in Tokyo
    assert format_date(at, "Asia/Tokyo", "en") == "Nov 1, 2026"
    assert format_datetime(at, "Asia/Tokyo", "ja") == "2026年11月1日 1:05"
    assert format_datetime(at, "Asia/Tokyo", "en") == "Nov 1, 2026 01:05"


def test_templates_have_the_formatters_as_filters(app):
    with app.test_request_context("/?locale=en"):
        rendered = app.jinja_env.from_string(
            "{{ 12.34 | money('USD') }} {{ d | date }} {{ 12345 | number }}"
        ).render(d=date(2026, 11, 3))
    assert rendered == "$12.34 Nov 3, 2026 12,345"
