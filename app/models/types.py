"""Column types shared by the models: UTC timestamps and money."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, DateTime, Numeric, Result
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no offset, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Amounts in the shop currency: 12 digits before the point covers any retailer's lifetime spend.
Money = Numeric(14, 2, asdecimal=True)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


ZERO = Decimal("0")


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (Session.execute types every result as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount
