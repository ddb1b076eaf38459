"""Checks on App Bridge session-token claims that shopifyapp's verify_app_home_req leaves to the app."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
# PyJWT only checks exp/nbf when present: a token without them would never expire, so demand them.
REQUIRED_CLAIMS = ("iss", "dest", "aud", "exp", "nbf", "iat")
# Shopify issues session tokens that live one minute
# (https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens, "Lifetime of a session
# token"). A validly signed token claiming a longer life was not issued by App Bridge as documented (or the
# secret leaked): refuse it. Five minutes leaves room for skew without accepting long-lived tokens.
MAX_LIFETIME_SECONDS = 300


class InvalidSessionToken(Exception):
    """A signed session token whose claims do not name one valid shop."""


def valid_shop_domain(value: str | None) -> str | None:
    """The domain if it is a well-formed `x.myshopify.com`, else None (FACTS.md regex)."""
    if not value:
        return None
    return value if SHOP_DOMAIN.fullmatch(value) else None


def shop_from_claims(claims: dict[str, Any]) -> str:
    """The shop domain from `dest`, after checking the claims are complete and iss/dest agree."""
    missing = [name for name in REQUIRED_CLAIMS if claims.get(name) in (None, "")]
    if missing:
        raise InvalidSessionToken("session token lacks required claims")
    try:
        lifetime = float(claims["exp"]) - float(claims["iat"])
    except (TypeError, ValueError) as exc:
        raise InvalidSessionToken("exp or iat is not a number") from exc
    if not 0 < lifetime <= MAX_LIFETIME_SECONDS:
        raise InvalidSessionToken("session token lifetime is not what Shopify issues")
    dest, iss = urlparse(str(claims["dest"])), urlparse(str(claims["iss"]))
    domain = valid_shop_domain(dest.hostname if dest.scheme == "https" and not dest.port else None)
    if domain is None:
        raise InvalidSessionToken("dest is not a https://{shop}.myshopify.com URL")
    if iss.scheme != "https" or iss.hostname != domain or iss.port or iss.path.rstrip("/") != "/admin":
        raise InvalidSessionToken("iss does not name the dest shop's admin")
    return domain
