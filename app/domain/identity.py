"""Identity rules: member numbers, phone/email normalisation, keyed hashes, matching store members."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import phonenumbers
import segno
from barcode.charsets.code128 import START_CODES
from barcode.codex import Code128
from barcode.writer import SVGWriter

# Damm's check digit: a totally anti-symmetric quasigroup of order 10. Unlike Luhn (misses 09<->90) or the
# JAN/EAN weights (miss transpositions of digits 5 apart), it catches every single-digit error and every
# adjacent transposition, which are the two mistakes staff make typing a card number at the till.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
MEMBER_NUMBER_BODY = 11  # 11 random digits + 1 check digit: 12 digits, easy to read out, ~10^11 per shop


def damm_check_digit(digits: str) -> str:
    """The Damm check digit of a string of ASCII digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def new_member_number(rng: secrets.SystemRandom | None = None) -> str:
    """A random member number with its check digit (random, so card numbers cannot be enumerated)."""
    rng = rng or secrets.SystemRandom()
    body = str(rng.randint(10 ** (MEMBER_NUMBER_BODY - 1), 10**MEMBER_NUMBER_BODY - 1))
    return body + damm_check_digit(body)


def clean_member_number(raw: str | None) -> str | None:
    """The digits of a typed or scanned member number if its check digit is right, else None."""
    if not raw:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", raw) if ch.isdigit())
    if len(digits) != MEMBER_NUMBER_BODY + 1 or not digits.isascii():
        return None
    return digits if damm_check_digit(digits) == "0" else None


class _Code128(Code128):  # type: ignore[misc]  # python-barcode ships without type hints
    """python-barcode's Code128 without its start-code shortcut for symbols that start in set C.

    The shortcut folds "start B, CODE C (99)" into "start C"; it also fires when the symbol already starts in
    set C and its first digit pair is 99, dropping those two digits (python-barcode 0.16: "990000000000"
    encodes as "0000000000"). In set C, 99 is the digits "99" (ISO/IEC 15417 code set C, values 00-99).
    """

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        if encoded[0] == START_CODES["C"]:
            return encoded
        return list(super()._try_to_optimize(encoded))


def member_barcode_svg(member_number: str) -> str:
    """The member number as a Code128 barcode (SVG), as POS scanners read it."""
    buffer = io.BytesIO()
    _Code128(member_number, writer=SVGWriter()).write(buffer, options={"write_text": True})
    return buffer.getvalue().decode()


def member_qr_svg(member_number: str, scale: int = 4) -> str:
    """The member number as a QR code (SVG) for phone screens and LINE."""
    buffer = io.BytesIO()
    segno.make(member_number, error="m").save(buffer, kind="svg", scale=scale, xmldecl=False)
    return buffer.getvalue().decode()


def normalise_phone(raw: str | None, region: str = "JP") -> str | None:
    """E.164 (`+819012345678`) for a valid number in any common notation, else None."""
    if not raw or not raw.strip():
        return None
    text = unicodedata.normalize("NFKC", raw).strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str | None) -> str | None:
    """Trimmed, lowercased, full-width folded (NFKC) email, or None if it cannot be an address."""
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    local, sep, domain = text.rpartition("@")
    if not sep or not local or "." not in domain or any(ch.isspace() for ch in text):
        return None
    return text


IdentifierKind = Literal["phone", "email", "customer"]


def identifier_hash(key: bytes, shop_id: int, kind: IdentifierKind, normalised: str) -> str:
    """HMAC-SHA256 of a normalised identifier: matchable within one shop, useless elsewhere or if leaked."""
    message = f"{shop_id}:{kind}:{normalised}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def phone_hash(key: bytes, shop_id: int, raw: str | None) -> str | None:
    """Keyed hash of a phone number after normalisation (None if not a valid number)."""
    phone = normalise_phone(raw)
    return identifier_hash(key, shop_id, "phone", phone) if phone else None


def email_hash(key: bytes, shop_id: int, raw: str | None) -> str | None:
    """Keyed hash of an email after normalisation (None if not an address)."""
    email = normalise_email(raw)
    return identifier_hash(key, shop_id, "email", email) if email else None


MatchOutcome = Literal["matched", "ambiguous", "none"]


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """Result of matching a store member to existing members."""

    outcome: MatchOutcome
    member_id: int | None = None
    by: str | None = None  # member_number | phone | email
    candidates: tuple[int, ...] = ()


def decide_match(
    by_member_number: Sequence[int], by_phone: Sequence[int], by_email: Sequence[int]
) -> MatchDecision:
    """Member number first, then phone, then email; the first step with hits decides; several -> review."""
    for by, hits in (("member_number", by_member_number), ("phone", by_phone), ("email", by_email)):
        unique = tuple(sorted(set(hits)))
        if len(unique) == 1:
            return MatchDecision("matched", unique[0], by, unique)
        if len(unique) > 1:
            # Never merge on a guess: two members sharing a family phone is common in Japan.
            return MatchDecision("ambiguous", None, by, unique)
    return MatchDecision("none")
