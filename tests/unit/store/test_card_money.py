"""Amounts on the member card in the shop's currency, written as the shopper's language does (CLDR)."""

from decimal import Decimal

import pytest

from app.i18n import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (Decimal("12000"), "JPY", "en", "¥12,000"),
        (Decimal("12000.4"), "JPY", "en", "¥12,000"),
        (Decimal("12000.4"), "JPY", "ja", "￥12,000"),
        (Decimal("12.5"), "USD", "en", "$12.50"),
        (Decimal("12.5"), "USD", "ja", "$12.50"),
        (Decimal("1234.5"), "CHF", "en", "CHF1,234.50"),
    ],
)
def test_money(amount, currency, locale, text):
    assert format_money(amount, currency, locale) == text
