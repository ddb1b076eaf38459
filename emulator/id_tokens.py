"""App Bridge session tokens (id_token): minted for tests and the demo, verified by token exchange."""

from __future__ import annotations

import secrets
import time
import uuid
import warnings
from collections.abc import Callable
from urllib.parse import urlparse

import jwt
from jwt.warnings import InsecureKeyLengthWarning

# Session tokens live one minute; verifiers allow about 10 s of clock skew
# (https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens).
ID_TOKEN_TTL = 60
CLOCK_SKEW = 10
_REQUIRED_CLAIMS = ["iss", "dest", "aud", "sub", "exp", "nbf", "iat", "jti", "sid"]


class InvalidIdToken(Exception):
    """The id_token fails a check Shopify makes before exchanging it."""


class IdTokenMinter:
    """Mints id_tokens for one app (api key + secret) with overridable claims for negative tests."""

    def __init__(self, api_key: str, api_secret: str, clock: Callable[[], float] = time.time) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock = clock

    def mint(
        self,
        shop: str,
        *,
        user_id: int | str = 1,
        issued_at: float | None = None,
        lifetime: int = ID_TOKEN_TTL,
        key: str | None = None,
        algorithm: str = "HS256",
        omit: tuple[str, ...] = (),
        **claims: object,
    ) -> str:
        """Return a signed id_token for `shop`; keyword claims (aud, iss, dest, nbf, exp, ...) override."""
        now = int(self.clock() if issued_at is None else issued_at)
        payload: dict[str, object] = {
            "iss": f"https://{shop}/admin",
            "dest": f"https://{shop}",
            "aud": self.api_key,
            "sub": str(user_id),
            "exp": now + lifetime,
            "nbf": now,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "sid": secrets.token_hex(16),
        }
        payload.update(claims)
        for name in omit:
            payload.pop(name, None)
        with warnings.catch_warnings():
            # Test secrets are short on purpose ("test-api-secret"); Shopify's real ones are 32+ bytes.
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.encode(payload, key if key is not None else self.api_secret, algorithm=algorithm)


def verify_id_token(
    token: str,
    *,
    api_key: str,
    api_secret: str,
    shop: str,
    clock: Callable[[], float] = time.time,
    leeway: int = CLOCK_SKEW,
) -> dict:
    """Check signature, audience, lifetime and that iss/dest name `shop`; return the claims."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            # PyJWT compares exp/nbf against its own clock; the lifetime is checked against ours below.
            claims = jwt.decode(
                token,
                api_secret,
                algorithms=["HS256"],
                audience=api_key,
                options={
                    "require": _REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
    except jwt.InvalidTokenError as exc:
        raise InvalidIdToken(str(exc)) from exc
    now = clock()
    if now > float(claims["exp"]) + leeway:
        raise InvalidIdToken("token is expired")
    if now < float(claims["nbf"]) - leeway:
        raise InvalidIdToken("token is not yet valid (nbf)")
    dest_host = urlparse(str(claims["dest"])).hostname
    iss_host = urlparse(str(claims["iss"])).hostname
    if dest_host != iss_host:
        raise InvalidIdToken("iss and dest name different shops")
    if dest_host != shop:
        raise InvalidIdToken("dest does not name the shop the request was sent to")
    return claims
