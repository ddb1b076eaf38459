"""Opening balances from a previous point system: read a merchant's CSV, check every row, name every problem.

Pure: bytes in, rows and line-numbered problems out. Matching rows to members needs the database and
happens in app/points/opening.py; the values read here (phones, emails) stay in memory and are never part
of a problem, so a report or a log line cannot leak them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.identity import normalise_email, normalise_phone

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000  # rows applied in one transaction; a bigger book is split into several files
MAX_POINTS = 10_000_000  # per member: anything larger is a typo (an amount of money, a card number)
MAX_CODE_LENGTH = 64

Column = Literal["member_number", "phone", "email", "balance", "expiry", "as_of"]
COLUMNS: tuple[Column, ...] = ("member_number", "phone", "email", "balance", "expiry", "as_of")
IDENTIFIERS: tuple[Column, ...] = ("member_number", "phone", "email")

# Header names as Japanese and English spreadsheets write them, compared after _header_key().
_HEADERS: dict[Column, frozenset[str]] = {
    "member_number": frozenset(
        {"membernumber", "memberno", "memberid", "cardnumber", "cardno", "customercode", "会員番号",
         "会員no", "会員コード", "カード番号", "ポイントカード番号", "顧客コード", "顧客番号"}
    ),
    "phone": frozenset(
        {"phone", "phonenumber", "tel", "telephone", "mobile", "電話番号", "電話", "携帯電話",
         "携帯電話番号", "携帯番号"}
    ),
    "email": frozenset(
        {"email", "mail", "emailaddress", "メール", "メールアドレス", "eメール", "eメールアドレス"}
    ),
    "balance": frozenset(
        {"balance", "points", "point", "pointbalance", "ポイント", "ポイント残高", "残高", "保有ポイント",
         "残ポイント"}
    ),
    "expiry": frozenset(
        {"expiry", "expires", "expireson", "expirydate", "expirationdate", "有効期限", "期限",
         "ポイント有効期限"}
    ),
    "as_of": frozenset({"asof", "asofdate", "基準日", "時点", "残高基準日"}),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a file or a row cannot be applied: `line` None for the whole file; no value from the file."""

    code: str
    line: int | None = None
    column: Column | None = None
    other_line: int | None = None  # the earlier line a duplicate repeats

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "line": self.line, "column": self.column, "other_line": self.other_line}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Problem:
        line, other = data.get("line"), data.get("other_line")
        column = data.get("column")
        return cls(
            code=str(data["code"]),
            line=line if isinstance(line, int) else None,
            column=next((c for c in COLUMNS if c == column), None),
            other_line=other if isinstance(other, int) else None,
        )


@dataclass(frozen=True, slots=True)
class OpeningRow:
    """One member's opening balance: identifiers normalised (E.164 phone, folded email), dates as written."""

    line: int
    points: int
    member_number: str | None = None
    phone: str | None = None
    email: str | None = None
    expires_on: date | None = None
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class OpeningFile:
    """A read file: its good rows and every problem found (nothing may be applied while there is one)."""

    sha256: str
    encoding: str | None
    rows: tuple[OpeningRow, ...]
    problems: tuple[Problem, ...]
    lines: int = 0  # data rows read, good or not

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)

    @property
    def points(self) -> int:
        return sum(row.points for row in self.rows)


def read_opening_file(data: bytes, *, region: str, today: date) -> OpeningFile:
    """Every row of the file checked; `region` reads local phone numbers, `today` is the shop's date."""
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_BYTES:
        return OpeningFile(digest, None, (), (Problem("too_large"),))
    decoded = decode(data)
    if decoded is None:
        return OpeningFile(digest, None, (), (Problem("encoding"),))
    text, encoding = decoded
    rows, problems, lines = _read_rows(text, region, today)
    if not rows and not problems:
        problems = [Problem("empty")]
    return OpeningFile(digest, encoding, tuple(rows), tuple(problems), lines)


def decode(data: bytes) -> tuple[str, str] | None:
    """The text and its encoding: UTF-8 (with or without BOM), UTF-16 with BOM, else Shift_JIS (cp932)."""
    # Excel's "Unicode text" is UTF-16 with a BOM; Japanese Excel saves CSV as cp932 unless told otherwise.
    unicode_text = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    candidates: tuple[str, ...] = ("utf-16",) if unicode_text else ("utf-8-sig", "cp932")
    for encoding in candidates:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None


def _header_key(cell: str) -> str:
    return re.sub(r"[\s_\-/()・.:]", "", unicodedata.normalize("NFKC", cell).lower())


def _columns(header: list[str]) -> tuple[dict[Column, int], list[Problem]]:
    """Which cell holds which column; unknown columns (names, notes) are ignored."""
    found: dict[Column, int] = {}
    problems: list[Problem] = []
    for index, cell in enumerate(header):
        key = _header_key(cell)
        for column, names in _HEADERS.items():
            if key in names:
                if column in found:
                    problems.append(Problem("duplicate_column", line=1, column=column))
                found[column] = index
    if not found:
        return found, [Problem("no_header", line=1)]
    if "balance" not in found:
        problems.append(Problem("no_balance_column", line=1))
    if not any(column in found for column in IDENTIFIERS):
        problems.append(Problem("no_identifier_column", line=1))
    return found, problems


def _read_rows(text: str, region: str, today: date) -> tuple[list[OpeningRow], list[Problem], int]:
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: dict[Column, int] | None = None
    rows: list[OpeningRow] = []
    problems: list[Problem] = []
    seen = _Seen()
    count = 0
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns, header_problems = _columns(cells)
                if header_problems:
                    return [], header_problems, 0
                continue
            count += 1
            if count > MAX_ROWS:
                return [], [Problem("too_many_rows")], 0
            row, row_problems = _read_row(reader.line_num, cells, columns, region, today)
            if row is not None:
                row_problems = seen.check(row)
            if row is not None and not row_problems:
                rows.append(row)
            problems.extend(row_problems)
    except csv.Error:
        return [], [Problem("not_csv", line=reader.line_num or None)], 0
    return rows, problems, count


def _read_row(
    line: int, cells: list[str], columns: dict[Column, int], region: str, today: date
) -> tuple[OpeningRow | None, list[Problem]]:
    def cell(column: Column) -> str:
        index = columns.get(column)
        if index is None or index >= len(cells):
            return ""
        return unicodedata.normalize("NFKC", cells[index]).strip()

    problems: list[Problem] = []
    number = re.sub(r"[\s\-]", "", cell("member_number")) or None
    if number is not None and (len(number) > MAX_CODE_LENGTH or not number.isascii() or not number.isalnum()):
        problems.append(Problem("bad_member_number", line, "member_number"))
    phone = normalise_phone(cell("phone"), region) if cell("phone") else None
    if cell("phone") and phone is None:
        problems.append(Problem("bad_phone", line, "phone"))
    email = normalise_email(cell("email")) if cell("email") else None
    if cell("email") and email is None:
        problems.append(Problem("bad_email", line, "email"))
    if not (number or cell("phone") or cell("email")):
        problems.append(Problem("no_identifier", line))
    points = _points(cell("balance"), line, problems)
    expires_on = _day(cell("expiry"), line, "expiry", problems)
    as_of = _day(cell("as_of"), line, "as_of", problems)
    if expires_on is not None and expires_on < today:
        problems.append(Problem("expiry_past", line, "expiry"))
    if as_of is not None and as_of > today:
        problems.append(Problem("as_of_future", line, "as_of"))
    if expires_on is not None and as_of is not None and expires_on < as_of:
        problems.append(Problem("expiry_before_as_of", line, "expiry"))
    if problems or points is None:
        return None, problems
    return OpeningRow(line, points, number, phone, email, expires_on, as_of), []


def _points(raw: str, line: int, problems: list[Problem]) -> int | None:
    text = raw.replace(",", "").replace(" ", "")
    if not text:
        problems.append(Problem("balance_missing", line, "balance"))
        return None
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", text) is None:
        problems.append(Problem("balance_not_number", line, "balance"))
        return None
    if "." in text:
        problems.append(Problem("balance_not_whole", line, "balance"))
        return None
    value = int(text)
    if value <= 0:
        problems.append(Problem("balance_not_positive", line, "balance"))
        return None
    if value > MAX_POINTS:
        problems.append(Problem("balance_too_large", line, "balance"))
        return None
    return value


_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")


def parse_day(raw: str) -> date | None:
    """A date as spreadsheets write it: 2026-03-31, 2026/3/31 (0:00), 2026年3月31日, 20260331; else None."""
    text = unicodedata.normalize("NFKC", raw).strip()
    match = _DATE.fullmatch(text) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _day(raw: str, line: int, column: Column, problems: list[Problem]) -> date | None:
    if not raw:
        return None
    value = parse_day(raw)
    if value is None:
        problems.append(Problem("bad_date", line, column))
    return value


class _Seen:
    """Earlier rows by content and by identifier: one member, one row."""

    def __init__(self) -> None:
        self.rows: dict[tuple[object, ...], int] = {}
        self.values: dict[tuple[Column, str], int] = {}

    def check(self, row: OpeningRow) -> list[Problem]:
        content = (row.member_number, row.phone, row.email, row.points, row.expires_on, row.as_of)
        if content in self.rows:
            return [Problem("duplicate_row", row.line, other_line=self.rows[content])]
        self.rows[content] = row.line
        problems = []
        for column, value in zip(IDENTIFIERS, (row.member_number, row.phone, row.email), strict=True):
            if value is None:
                continue
            key = (column, value)
            if key in self.values:
                problems.append(Problem("repeated_identifier", row.line, column, self.values[key]))
            else:
                self.values[key] = row.line
        return problems


def local_midnight(day: date, timezone: str) -> datetime:
    """The start of `day` in the shop's time zone, in UTC."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def expiry_instant(expires_on: date, timezone: str) -> datetime:
    """Points can be used through their expiry date: they expire when the shop's next day begins."""
    return local_midnight(expires_on + timedelta(days=1), timezone)


def as_of_instant(as_of: date | None, timezone: str, now: datetime) -> datetime:
    """When an opening balance takes effect: the end of its as-of day (the old system's balance then
    includes that day's sales), never later than now; now when the file names no date."""
    if as_of is None:
        return now
    return min(local_midnight(as_of + timedelta(days=1), timezone), now)
