"""The test decoder itself: the table matches the specification's rules, and it refuses damaged bars."""

from __future__ import annotations

import pytest

from app.domain.identity import member_barcode_svg, new_member_number
from tests.unit.store.code128 import (
    PATTERNS,
    DecodeError,
    decode_code128_svg,
    decode_modules,
    modules_from_svg,
)


def test_every_pattern_is_eleven_modules_and_unique():
    assert len(PATTERNS) == 106 and len(set(PATTERNS)) == 106
    assert all(sum(map(int, p)) == 11 and len(p) == 6 for p in PATTERNS)


@pytest.mark.parametrize(
    "number",
    [
        "000000000000",
        "123456789012",
        "990000000000",
        "992839514906",
        new_member_number(),
        new_member_number(),
    ],
)
def test_member_numbers_round_trip(number):
    assert decode_code128_svg(member_barcode_svg(number)) == number


def test_a_damaged_bar_is_refused():
    widths = modules_from_svg(member_barcode_svg("123456789012"))
    widths[8] += 1  # one bar drawn a module too wide
    with pytest.raises(DecodeError):
        decode_modules(widths)


def test_a_wrong_checksum_is_refused():
    widths = modules_from_svg(member_barcode_svg("123456789012"))
    # Swap the two data symbols after the start code: still valid symbols, wrong checksum.
    widths[6:12], widths[12:18] = widths[12:18], widths[6:12]
    with pytest.raises(DecodeError, match="checksum"):
        decode_modules(widths)
