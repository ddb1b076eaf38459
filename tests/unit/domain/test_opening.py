"""Opening-balance files: encodings, header detection, and one line-numbered problem per broken rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.domain.opening import (
    MAX_BYTES,
    MAX_ROWS,
    Problem,
    as_of_instant,
    decode,
    expiry_instant,
    local_midnight,
    parse_day,
    read_opening_file,
)

TODAY = date(2026, 12, 6)


def read(text: str, encoding: str = "utf-8"):
    return read_opening_file(text.encode(encoding), region="JP", today=TODAY)


def codes(result) -> list[tuple[int | None, str, str | None]]:
    return [(p.line, p.code, p.column) for p in result.problems]


def test_a_good_file_reads_every_row_with_normalised_identifiers():
    result = read(
        "会員番号,電話番号,メールアドレス,ポイント残高,有効期限,基準日\n"
        "1234-5678-9012,,,1200,2027/3/31,2026/11/30\n"
        ",090-1234-5678,,500,,\n"
        ',,Taro@Example.JP,"1,500",2027年1月1日,\n'
    )
    assert result.ok and result.problems == ()
    first, second, third = result.rows
    assert (first.line, first.member_number, first.points) == (2, "123456789012", 1200)
    assert first.expires_on == date(2027, 3, 31) and first.as_of == date(2026, 11, 30)
    assert (second.line, second.phone, second.expires_on) == (3, "+819012345678", None)
    assert (third.email, third.points, third.expires_on) == ("taro@example.jp", 1500, date(2027, 1, 1))
    assert result.points == 3200


def test_shift_jis_as_japanese_excel_saves_it():
    text = "会員番号,ポイント残高\r\nA001,300\r\n"
    result = read_opening_file(text.encode("cp932"), region="JP", today=TODAY)
    assert result.encoding == "cp932" and result.ok
    assert result.rows[0].member_number == "A001"


def test_utf8_with_bom_and_english_headers():
    result = read_opening_file(b"\xef\xbb\xbf" + b"Member No.,Balance\nA1,10\n", region="JP", today=TODAY)
    assert result.encoding == "utf-8-sig" and result.ok and result.rows[0].points == 10


def test_utf16_tab_separated_unicode_text():
    result = read_opening_file("phone\tpoints\n03-1234-5678\t7\n".encode("utf-16"), region="JP", today=TODAY)
    assert result.ok and result.rows[0].phone == "+81312345678"


def test_bytes_that_are_neither_utf8_nor_shift_jis_are_refused():
    data = "会員番号,ポイント\n".encode() + b"\x81\x7f,1\n"  # a cp932 lead byte without its trail byte
    assert decode(data) is None
    result = read_opening_file(data, region="JP", today=TODAY)
    assert codes(result) == [(None, "encoding", None)] and not result.ok


def test_the_first_row_must_name_the_columns():
    assert codes(read("A001,300\nA002,400\n")) == [(1, "no_header", None)]
    assert codes(read("会員番号,名前\nA1,x\n")) == [(1, "no_balance_column", None)]
    assert codes(read("氏名,ポイント\nx,1\n")) == [(1, "no_identifier_column", None)]
    assert codes(read("phone,tel,points\n1,2,3\n")) == [(1, "duplicate_column", "phone")]


def test_unknown_columns_and_blank_lines_are_ignored_and_lines_keep_their_numbers():
    result = read("氏名,会員番号,ポイント\n\n山田,A1,10\n,,\n鈴木,A2,x\n")
    assert [r.line for r in result.rows] == [3]
    assert codes(result) == [(5, "balance_not_number", "balance")]


@pytest.mark.parametrize(
    "balance, code",
    [
        ("", "balance_missing"),
        ("abc", "balance_not_number"),
        ("1.5", "balance_not_whole"),
        ("0", "balance_not_positive"),
        ("-20", "balance_not_positive"),
        ("10000001", "balance_too_large"),
    ],
)
def test_balance_must_be_whole_positive_points(balance, code):
    assert codes(read(f"会員番号,ポイント残高\nA1,{balance}\n")) == [(2, code, "balance")]


def test_full_width_digits_and_commas_are_read():
    assert read('会員番号,ポイント残高\nＡ１,"１，２００"\n').rows[0].points == 1200


@pytest.mark.parametrize(
    "cells, code, column",
    [
        (",,,10", "no_identifier", None),
        ("A-1_x,,,10", "bad_member_number", "member_number"),
        (",12,,10", "bad_phone", "phone"),
        (",,not-an-address,10", "bad_email", "email"),
    ],
)
def test_identifiers_are_checked(cells, code, column):
    assert codes(read(f"会員番号,電話番号,メール,ポイント\n{cells}\n")) == [(2, code, column)]


def test_dates_expiry_in_the_past_as_of_in_the_future_and_their_order():
    head = "会員番号,ポイント,有効期限,基準日\n"
    assert codes(read(head + "A1,1,2027/02/30,\n")) == [(2, "bad_date", "expiry")]
    assert codes(read(head + "A1,1,,someday\n")) == [(2, "bad_date", "as_of")]
    assert codes(read(head + "A1,1,2026/12/05,\n")) == [(2, "expiry_past", "expiry")]
    assert read(head + "A1,1,2026/12/06,\n").ok  # usable through today
    assert codes(read(head + "A1,1,,2026/12/07\n")) == [(2, "as_of_future", "as_of")]


def test_expiry_before_the_as_of_date():
    head = "会員番号,ポイント,有効期限,基準日\n"
    result = read(head + "A1,1,2026/12/06,2026/12/01\nA2,1,2026/12/06,2026/12/06\n")
    assert result.ok
    later = read_opening_file(
        "会員番号,ポイント,有効期限,基準日\nA1,1,2026/12/20,2026/12/21\n".encode(),
        region="JP",
        today=date(2026, 12, 20),
    )
    assert codes(later) == [(2, "as_of_future", "as_of"), (2, "expiry_before_as_of", "expiry")]


def test_duplicate_rows_and_a_member_named_twice_point_at_the_first_line():
    result = read("会員番号,電話番号,ポイント\nA1,,10\nA1,,10\nA1,,20\n,090-1111-2222,5\n,09011112222,6\n")
    assert [(p.line, p.code, p.other_line) for p in result.problems] == [
        (3, "duplicate_row", 2),
        (4, "repeated_identifier", 2),
        (6, "repeated_identifier", 5),
    ]
    assert [r.line for r in result.rows] == [2, 5]
    assert not result.ok  # rows that read well are still not applied while any problem remains


def test_every_problem_is_reported_not_only_the_first():
    result = read("会員番号,ポイント,有効期限\nA1,x,\n,5,\nA3,5,bad\nA4,5,\n")
    assert codes(result) == [
        (2, "balance_not_number", "balance"),
        (3, "no_identifier", None),
        (4, "bad_date", "expiry"),
    ]


def test_size_row_count_and_empty_limits():
    assert codes(read_opening_file(b"x" * (MAX_BYTES + 1), region="JP", today=TODAY)) == [
        (None, "too_large", None)
    ]
    many = "会員番号,ポイント\n" + "".join(f"A{i},1\n" for i in range(MAX_ROWS + 1))
    assert codes(read(many)) == [(None, "too_many_rows", None)]
    assert codes(read("会員番号,ポイント\n\n")) == [(None, "empty", None)]
    assert codes(read("")) == [(None, "empty", None)]


def test_a_broken_quote_is_not_csv():
    assert codes(read('会員番号,ポイント\n"A1\x00,1\n'))[0][1] in ("not_csv", "bad_member_number")


def test_the_same_bytes_have_the_same_hash():
    a, b = read("会員番号,ポイント\nA1,1\n"), read("会員番号,ポイント\nA1,2\n")
    assert a.sha256 == read("会員番号,ポイント\nA1,1\n").sha256 != b.sha256


def test_problems_keep_no_value_from_the_file_and_round_trip():
    result = read("会員番号,電話番号,ポイント\n,03-12,10\n")
    stored = [p.to_json() for p in result.problems]
    assert "03-12" not in repr(stored)
    assert [Problem.from_json(p) for p in stored] == list(result.problems)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2027-03-31", date(2027, 3, 31)),
        ("2027/3/31", date(2027, 3, 31)),
        ("2027/3/31 0:00", date(2027, 3, 31)),
        ("2027年3月31日", date(2027, 3, 31)),
        ("２０２７／３／３１", date(2027, 3, 31)),
        ("20270331", date(2027, 3, 31)),
        ("2027/2/29", None),
        ("31/03/2027", None),
        ("soon", None),
    ],
)
def test_dates_as_spreadsheets_write_them(raw, expected):
    assert parse_day(raw) == expected


def test_instants_follow_the_shop_calendar():
    tokyo = "Asia/Tokyo"
    assert local_midnight(date(2026, 4, 1), tokyo) == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    # Usable through the expiry date: expires when the next day begins in the shop.
    assert expiry_instant(date(2027, 3, 31), tokyo) == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
    now = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    assert as_of_instant(None, tokyo, now) == now
    assert as_of_instant(date(2026, 11, 30), tokyo, now) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert as_of_instant(date(2026, 12, 6), tokyo, now) == now  # the end of today is later than now
