"""Dashboard forms: parse and validate inputs, answer fetch posts with JSON in the user's language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Response, jsonify

from app.i18n import format_int, t


@dataclass
class Form:
    """One submitted form: read fields with validation, collect one message per field."""

    data: Mapping[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def error(self, name: str, key: str, **params: Any) -> None:
        """Record the first problem of a field (later ones would only repeat it)."""
        self.errors.setdefault(name, t(key, **params))

    def text(self, name: str, *, required: bool = True, max_length: int = 255) -> str | None:
        """A trimmed string; empty is None (an error when required)."""
        value = (self.data.get(name) or "").strip()
        if not value:
            if required:
                self.error(name, "form.required")
            return None
        if len(value) > max_length:
            self.error(name, "form.too_long", max=max_length)
            return None
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = True,
        minimum: int | None = None,
        maximum: int | None = None,
        nonzero: bool = False,
    ) -> int | None:
        """A whole number (full-width digits and thousands commas accepted) within bounds."""
        raw = self._number_text(name, required)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.error(name, "form.integer")
            return None
        if nonzero and value == 0:
            self.error(name, "form.nonzero")
            return None
        return value if self._within(name, value, minimum, maximum, shown=format_int) else None

    def decimal(
        self,
        name: str,
        *,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
        required: bool = True,
    ) -> Decimal | None:
        """A decimal number within bounds."""
        raw = self._number_text(name, required)
        if raw is None:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            self.error(name, "form.number")
            return None
        if not value.is_finite():
            self.error(name, "form.number")
            return None
        return value if self._within(name, value, minimum, maximum, shown=str) else None

    def _number_text(self, name: str, required: bool) -> str | None:
        """The field in ASCII without thousands commas; None when empty (an error when required)."""
        raw = _ascii(self.data.get(name) or "").replace(",", "").strip()
        if not raw and required:
            self.error(name, "form.required")
        return raw or None

    def _within(
        self, name: str, value: Any, minimum: Any, maximum: Any, *, shown: Callable[[Any], str]
    ) -> bool:
        """Whether `value` lies within the bounds given; else the field's error names the bound it crossed."""
        if minimum is not None and value < minimum:
            self.error(name, "form.min", min=shown(minimum))
            return False
        if maximum is not None and value > maximum:
            self.error(name, "form.max", max=shown(maximum))
            return False
        return True

    def day(self, name: str, *, required: bool = True, after: date | None = None) -> date | None:
        """A date in YYYY-MM-DD (what <input type=date> sends), optionally strictly after `after`."""
        raw = _ascii(self.data.get(name) or "").strip()
        if not raw:
            if required:
                self.error(name, "form.required")
            return None
        try:
            value = datetime.strptime(raw, "%Y-%m-%d").date()
        except ValueError:
            self.error(name, "form.date")
            return None
        if after is not None and value <= after:
            self.error(name, "form.date_future")
            return None
        return value

    def choice(self, name: str, choices: tuple[str, ...] | list[str]) -> str | None:
        """One of `choices`."""
        value = (self.data.get(name) or "").strip()
        if value not in choices:
            self.error(name, "form.choice")
            return None
        return value

    @property
    def ok(self) -> bool:
        return not self.errors


def _ascii(text: str) -> str:
    """Full-width digits and signs (typed with a Japanese IME) as ASCII."""
    import unicodedata

    return unicodedata.normalize("NFKC", text)


def invalid(form: Form, message_key: str = "form.fix_errors") -> tuple[Response, int]:
    """422 with a summary and one message per field, for the page script to show beside the inputs."""
    return jsonify(ok=False, message=t(message_key), errors=form.errors), 422


def refused(message: str, status: int = 409) -> tuple[Response, int]:
    """The action cannot be done (e.g. not enough points): a message, no field errors."""
    return jsonify(ok=False, message=message, errors={}), status


def done(message: str, **extra: Any) -> Response:
    """Success: a message for the toast, and optionally `reload` or data for the page script."""
    return jsonify(ok=True, message=message, **extra)
