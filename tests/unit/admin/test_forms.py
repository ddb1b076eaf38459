"""Dashboard form fields: numbers typed with an IME, bounds, and one message per field."""

from decimal import Decimal

import pytest

from app.admin.forms import Form


@pytest.fixture
def english(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def test_whole_numbers_accept_full_width_digits_and_thousands_commas(english):
    form = Form({"points": "１,２００", "rate": "２.５"})
    assert form.integer("points") == 1200
    assert form.decimal("rate") == Decimal("2.5")
    assert form.ok


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter a value."),
        ("12.5", "Enter a whole number."),
        ("0", "Enter a number other than 0."),
        ("-20,000", "Enter -10,000 or more."),
        ("10001", "Enter 10,000 or less."),
    ],
)
def test_an_integer_outside_its_rules_gets_one_message(english, raw, message):
    form = Form({"points": raw})
    assert form.integer("points", minimum=-10000, maximum=10000, nonzero=True) is None
    assert form.errors == {"points": message}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "Enter a number."),
        ("NaN", "Enter a number."),
        ("0.5", "Enter 1 or more."),
        ("11", "Enter 10 or less."),
    ],
)
def test_a_decimal_outside_its_rules_gets_one_message(english, raw, message):
    form = Form({"rate": raw})
    assert form.decimal("rate", minimum=Decimal("1"), maximum=Decimal("10")) is None
    assert form.errors == {"rate": message}


def test_an_optional_number_left_empty_is_no_error(english):
    form = Form({})
    assert form.integer("points", required=False) is None
    assert form.decimal("rate", required=False) is None
    assert form.ok
