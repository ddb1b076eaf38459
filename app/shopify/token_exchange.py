"""Token exchange: a verified App Bridge session token becomes an expiring offline token pair.

https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/token-exchange — the session
token is checked here first (signature by shopifyapp, the shop claim against the shop asked for), then traded
for an offline token with `expiring=1` (expiring offline tokens, required of public apps from 2027-01-01).
Nothing is stored here: the install lifecycle (app/shops/installs.py) stores the grant.
"""

from __future__ import annotations

import logging

from shopify_app import IdTokenDetails

from app.shopify.errors import ShopifyAuthError, ShopifyUnavailable
from app.shopify.http import shopify_http_client
from app.shopify.sdk import settings, shopify_app
from app.shopify.session_token import InvalidSessionToken, shop_from_claims
from app.shopify.tokens import TokenGrant

log = logging.getLogger(__name__)


def exchange_for_offline_token(shop_domain: str, id_token: IdTokenDetails | str) -> TokenGrant:
    """The offline token pair for a session token naming `shop_domain`; raises ShopifyAuthError if refused."""
    config = settings()
    details = id_token if isinstance(id_token, IdTokenDetails) else _verified_details(id_token)
    try:
        if shop_from_claims(details.claims) != shop_domain:
            raise ShopifyAuthError("the session token names another shop")
    except InvalidSessionToken as exc:
        raise ShopifyAuthError(str(exc)) from exc
    with shopify_http_client(config) as http:
        result = shopify_app(config).exchange_using_token_exchange(
            "offline", id_token=details, expiring=True, http_client=http
        )
    if not result.ok or result.access_token is None:
        code = result.log.code
        log.warning("token exchange failed for %s: %s", shop_domain, code)
        if code in {"invalid_subject_token", "invalid_client", "configuration_error"}:
            raise ShopifyAuthError(f"token exchange refused ({code})")
        raise ShopifyUnavailable(f"token exchange failed ({code})", status=result.response.status)
    return TokenGrant.from_sdk(result.access_token)


def _verified_details(id_token: str) -> IdTokenDetails:
    """Verify a raw session token the way App Home requests are verified."""
    result = shopify_app().verify_app_home_req(
        {
            "method": "GET",
            "headers": {"Authorization": f"Bearer {id_token}"},
            "url": settings().app_url + "/",
            "body": "",
        },
        "/auth/patch-id-token",
    )
    if not result.ok or result.id_token is None:
        raise ShopifyAuthError(f"session token rejected ({result.log.code})")
    return result.id_token
