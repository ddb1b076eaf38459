"""How a search box entry is read: member number, phone (any Japanese notation), email, or a name."""

from __future__ import annotations

import pytest

from app.domain.identity import damm_check_digit
from app.members.search import classify

NUMBER = "12345678901" + damm_check_digit("12345678901")


@pytest.mark.parametrize(
    "query, kind",
    [
        (NUMBER, "member_number"),
        (f"{NUMBER[:4]} {NUMBER[4:8]} {NUMBER[8:]}", "member_number"),  # as printed on the card
        ("090-1234-5678", "phone"),
        ("09012345678", "phone"),
        ("+81 90 1234 5678", "phone"),
        ("０９０－１２３４－５６７８", "phone"),  # typed with a Japanese IME
        ("03-1234-5678", "phone"),
        ("Hanako@Example.JP ", "email"),
        ("not@an", "invalid"),
        ("佐藤", "name"),
        ("sato hanako", "name"),
        ("12345", "name"),  # too short for a phone, no check digit: searched as a name
        ("", "empty"),
        ("x" * 101, "invalid"),
    ],
)
def test_queries_are_read_the_way_staff_mean_them(query, kind):
    assert classify(query) == kind


def test_a_member_number_with_a_wrong_check_digit_is_not_one():
    wrong = NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10)
    assert classify(wrong) != "member_number"
