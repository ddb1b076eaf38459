"""When a thank-you goes out: the shop's local send time on the visit day, or the next day's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app.integrations.line.schedule import parse_send_at, send_time


@pytest.mark.parametrize(
    ("visit_utc", "send_at", "day", "due_utc"),
    [
        (
            datetime(2026, 11, 20, 5, 0, tzinfo=UTC),
            "20:00",
            date(2026, 11, 20),
            datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
        ),
        # 23:30 JST on the 20th is 14:30 UTC: the visit day is the 20th in Tokyo, thanked the next evening.
        (
            datetime(2026, 11, 20, 14, 30, tzinfo=UTC),
            "20:00",
            date(2026, 11, 20),
            datetime(2026, 11, 21, 11, 0, tzinfo=UTC),
        ),
        # 00:30 JST on the 21st is still the 20th in UTC: the local date decides.
        (
            datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
            "20:00",
            date(2026, 11, 21),
            datetime(2026, 11, 21, 11, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
            "20:00",
            date(2026, 11, 20),
            datetime(2026, 11, 21, 11, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
            "09:15",
            date(2026, 11, 20),
            datetime(2026, 11, 20, 0, 15, tzinfo=UTC),
        ),
    ],
)
def test_send_time_in_tokyo(visit_utc, send_at, day, due_utc):
    assert send_time(visit_utc, "Asia/Tokyo", send_at) == (day, due_utc)


def test_other_time_zones_use_their_own_evening():
    visit = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 08:00 in New York (EDT)
    assert send_time(visit, "America/New_York", "20:00") == (
        date(2026, 7, 1),
        datetime(2026, 7, 2, 0, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("20:00", time(20)), ("7:05", time(7, 5)), (None, time(20)), ("late", time(20)), ("25:00", time(20))],
)
def test_parse_send_at(raw, expected):
    assert parse_send_at(raw) == expected
