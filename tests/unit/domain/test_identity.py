"""Identity rules: phone and email normalisation (Japanese formats), member numbers, matching order."""

from __future__ import annotations

import random

import pytest

from app.domain.identity import (
    MEMBER_NUMBER_BODY,
    clean_member_number,
    damm_check_digit,
    decide_match,
    email_hash,
    member_barcode_svg,
    member_qr_svg,
    new_member_number,
    normalise_email,
    normalise_phone,
    phone_hash,
)

KEY = b"test-key"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("090-1234-5678", "+819012345678"),
        ("09012345678", "+819012345678"),
        ("+81 90 1234 5678", "+819012345678"),
        ("+81-90-1234-5678", "+819012345678"),
        ("+819012345678", "+819012345678"),
        ("(090) 1234-5678", "+819012345678"),
        ("090 1234 5678", "+819012345678"),
        (
            "０９０－１２３４－５６７８",
            "+819012345678",
        ),  # full-width digits and hyphens, as typed on a Japanese IME
        (
            "０９０ー１２３４ー５６７８",
            "+819012345678",
        ),  # the katakana long vowel mark, often typed as a dash
        ("  080-1111-2222  ", "+818011112222"),
        ("070-3333-4444", "+817033334444"),
        ("03-1234-5678", "+81312345678"),  # Tokyo landline
        ("06-6123-4567", "+81661234567"),  # Osaka landline
        ("0120-123-456", "+81120123456"),  # toll free
        ("+1 650 253 0000", "+16502530000"),  # a foreign number keeps its country
        ("12345", None),
        ("090-1234-567", None),  # a digit short
        ("not a phone", None),
        ("", None),
        (None, None),
    ],
)
def test_phone_numbers_normalise_to_e164(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("taro@example.jp", "taro@example.jp"),
        ("  Taro.Yamada@Example.CO.JP ", "taro.yamada@example.co.jp"),
        ("ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＪＰ", "taro@example.jp"),  # full-width input
        ("taro+shop@docomo.ne.jp", "taro+shop@docomo.ne.jp"),
        ("taro..x@ezweb.ne.jp", "taro..x@ezweb.ne.jp"),  # old carrier addresses break the RFC; keep them
        ("taro@localhost", None),
        ("taro example.jp", None),
        ("@example.jp", None),
        ("taro @example.jp", None),
        ("", None),
        (None, None),
    ],
)
def test_emails_are_trimmed_lowercased_and_folded(raw, expected):
    assert normalise_email(raw) == expected


def test_one_number_in_any_notation_hashes_the_same_and_differs_by_shop():
    digests = {phone_hash(KEY, 1, raw) for raw in ("090-1234-5678", "09012345678", "+81 90 1234 5678")}
    assert len(digests) == 1
    assert phone_hash(KEY, 2, "090-1234-5678") not in digests
    assert phone_hash(b"other-key", 1, "090-1234-5678") not in digests
    assert email_hash(KEY, 1, " A@B.JP ") == email_hash(KEY, 1, "a@b.jp")
    assert phone_hash(KEY, 1, "12345") is None


def test_damm_check_digit_known_value_and_member_numbers_validate():
    assert damm_check_digit("572") == "4"  # the published worked example
    for _ in range(200):
        number = new_member_number()
        assert len(number) == MEMBER_NUMBER_BODY + 1
        assert clean_member_number(number) == number
    body = "12345678901"
    good = body + damm_check_digit(body)
    assert clean_member_number(good) == good
    assert clean_member_number(body + str((int(good[-1]) + 1) % 10)) is None
    assert clean_member_number(good[:-1]) is None  # too short


def test_every_single_digit_error_and_adjacent_swap_is_caught():
    rng = random.Random(5)
    for _ in range(100):
        number = new_member_number(rng)  # type: ignore[arg-type]
        for i in range(len(number)):
            for d in "0123456789":
                if d != number[i]:
                    assert clean_member_number(number[:i] + d + number[i + 1 :]) is None
        for i in range(len(number) - 1):
            if number[i] != number[i + 1]:
                swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
                assert clean_member_number(swapped) is None


def test_member_number_is_read_from_spaced_or_full_width_input():
    number = new_member_number()
    spaced = f"{number[:4]} {number[4:8]}-{number[8:]}"
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert clean_member_number(spaced) == number
    assert clean_member_number(full_width) == number


def test_barcode_and_qr_render_svg():
    number = new_member_number()
    assert "<svg" in member_barcode_svg(number)
    assert "<svg" in member_qr_svg(number)


@pytest.mark.parametrize(
    ("numbers", "phones", "emails", "outcome", "member", "by"),
    [
        ([7], [8], [9], "matched", 7, "member_number"),  # member number beats phone and email
        ([], [8], [9], "matched", 8, "phone"),
        ([], [], [9], "matched", 9, "email"),
        ([], [8, 8], [], "matched", 8, "phone"),  # the same member twice is one candidate
        ([], [8, 9], [9], "ambiguous", None, "phone"),  # a family phone: never guess, never fall through
        ([], [], [3, 4], "ambiguous", None, "email"),
        ([], [], [], "none", None, None),
    ],
)
def test_match_order_member_number_then_phone_then_email(numbers, phones, emails, outcome, member, by):
    decision = decide_match(numbers, phones, emails)
    assert (decision.outcome, decision.member_id, decision.by) == (outcome, member, by)
