"""Japanese and English for the storefront pages (the shopper's language, not the merchant's).

The messages live in the shared catalogues (app/translations/*.json) under `proxy.`; a page gets them as
one flat dict, so templates write `t.title`.
"""

from __future__ import annotations

from functools import cache

from flask import request

from app.i18n import catalogue, translate_or

LANGUAGES = ("ja", "en")
PREFIX = "proxy."


@cache
def texts(lang: str) -> dict[str, str]:
    """Every storefront message of one language, keyed without the `proxy.` prefix."""
    return {k[len(PREFIX) :]: v for k, v in catalogue(lang).items() if k.startswith(PREFIX)}


def rank_name(handle: str, lang: str) -> str:
    """A rank's name in the shopper's language (a merchant's own handle as it is)."""
    return translate_or(f"rank.{handle}", handle, lang)


def language() -> str:
    """`lang` parameter (signed with the rest), else Accept-Language, else Japanese."""
    asked = request.args.get("lang") or request.form.get("lang")
    if asked in LANGUAGES:
        return asked
    best = request.accept_languages.best_match(list(LANGUAGES))
    return best or "ja"
