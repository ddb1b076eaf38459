"""Amounts on the member card in the shop's currency."""

from decimal import Decimal

import pytest

from app.proxy.card import money


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("12000"), "JPY", "¥12,000"),
        (Decimal("12000.4"), "JPY", "¥12,000"),
        (Decimal("12.5"), "USD", "$12.50"),
        (Decimal("1234.5"), "CHF", "1,234.50 CHF"),
    ],
)
def test_money(amount, currency, text):
    assert money(amount, currency) == text
