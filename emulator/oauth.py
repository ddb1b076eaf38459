"""Shopify's OAuth endpoints: token exchange, refresh, authorization-code grant and /admin/oauth/authorize."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlparse

from flask import Blueprint, Response, jsonify, redirect, request

from emulator.id_tokens import InvalidIdToken, verify_id_token
from emulator.tokens import InvalidGrant
from emulator.transport import shop_from_host

DEFAULT_APP_TOML = Path(__file__).resolve().parents[1] / "shopify.app.toml"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
# Authorization codes are single use; Shopify does not publish their lifetime, ten minutes is our choice.
CODE_TTL = 600


def load_app_toml(path: str | Path | None = None) -> dict:
    """Parse shopify.app.toml (the repository's unless a path is given)."""
    with open(path or DEFAULT_APP_TOML, "rb") as handle:
        return tomllib.load(handle)


def query_hmac(params: dict[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 over the sorted key=value pairs joined by '&', without hmac and signature."""
    message = "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in {"hmac", "signature"})
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def admin_host_param(shop: str) -> str:
    """The `host` parameter Shopify adds to app URLs: base64 of admin.shopify.com/store/{handle}."""
    handle = shop.removesuffix(".myshopify.com")
    return base64.b64encode(f"admin.shopify.com/store/{handle}".encode()).decode().rstrip("=")


@dataclass
class _Code:
    shop: str
    scopes: frozenset[str]
    expires_at: float


class OAuthProvider:
    """Shopify's side of app authorization for every shop in an EmulatorState."""

    def __init__(
        self,
        state,
        *,
        scopes: set[str] | None = None,
        redirect_urls: set[str] | None = None,
        redirect_origins: tuple[str, ...] = (),
    ) -> None:
        self.state = state
        self.default_scopes = set(scopes) if scopes is not None else set(state.config.scopes)
        if redirect_urls is None:
            redirect_urls = set(load_app_toml().get("auth", {}).get("redirect_urls", []))
        self.redirect_urls = redirect_urls
        self.redirect_origins = {_origin(url) for url in redirect_origins}
        # Per-shop grants, e.g. a test where the merchant declined a scope or an app/scopes_update.
        self.scope_overrides: dict[str, set[str]] = {}
        self._codes: dict[str, _Code] = {}

    def granted_scopes(self, shop: str) -> set[str]:
        """Scopes the merchant has granted to the app on this shop."""
        return set(self.scope_overrides.get(shop, self.default_scopes))

    def issue_code(self, shop: str) -> str:
        """A single-use authorization code, as /admin/oauth/authorize hands to the redirect_uri."""
        code = secrets.token_hex(16)
        self._codes[code] = _Code(shop, frozenset(self.granted_scopes(shop)), self.state.clock() + CODE_TTL)
        return code

    def blueprint(self) -> Blueprint:
        """Flask routes for /admin/oauth/access_token and /admin/oauth/authorize."""
        bp = Blueprint("emulator_oauth", __name__)
        bp.add_url_rule("/admin/oauth/access_token", view_func=self._access_token, methods=["POST"])
        bp.add_url_rule("/admin/oauth/authorize", view_func=self._authorize, methods=["GET"])
        return bp

    def _access_token(self) -> Response | tuple[Response, int]:
        shop = shop_from_host(request.host)
        if shop is None or shop not in self.state.shops:
            return jsonify(errors="Not Found"), 404
        params = _request_params()
        if not (
            hmac.compare_digest(str(params.get("client_id", "")), self.state.api_key)
            and hmac.compare_digest(str(params.get("client_secret", "")), self.state.api_secret)
        ):
            return _oauth_error("invalid_client", "Client authentication failed.", 401)
        grant = params.get("grant_type") or ("authorization_code" if "code" in params else "")
        if grant == TOKEN_EXCHANGE:
            return self._token_exchange(shop, params)
        if grant == "refresh_token":
            try:
                return jsonify(self.state.tokens.refresh(shop, str(params.get("refresh_token", ""))))
            except InvalidGrant as exc:
                return _oauth_error("invalid_grant", str(exc), 400)
        if grant == "authorization_code":
            return self._code_grant(shop, params)
        return _oauth_error("unsupported_grant_type", f"grant_type {grant!r} is not supported.", 400)

    def _token_exchange(self, shop: str, params: dict) -> Response | tuple[Response, int]:
        if params.get("subject_token_type") != ID_TOKEN_TYPE:
            return _oauth_error("invalid_request", "subject_token_type must be an id_token.", 400)
        if params.get("requested_token_type") != OFFLINE_TOKEN_TYPE:
            # Online tokens carry an associated user; the app never asks for one, so the emulator refuses.
            return _oauth_error("invalid_request", "only offline access tokens are emulated.", 400)
        try:
            verify_id_token(
                str(params.get("subject_token", "")),
                api_key=self.state.api_key,
                api_secret=self.state.api_secret,
                shop=shop,
                clock=self.state.clock,
            )
        except InvalidIdToken as exc:
            return _oauth_error("invalid_subject_token", f"Session token is invalid: {exc}", 400)
        # Opening the app from the admin (the only way to get an id_token) installs it again if needed.
        self.state.install_shop(shop)
        scopes = self.granted_scopes(shop)
        return jsonify(
            self.state.tokens.issue_offline(shop, scopes, expiring=_truthy(params.get("expiring")))
        )

    def _code_grant(self, shop: str, params: dict) -> Response | tuple[Response, int]:
        code = self._codes.pop(str(params.get("code", "")), None)
        if code is None or code.shop != shop or self.state.clock() >= code.expires_at:
            return _oauth_error("invalid_request", "The authorization code is unknown or used.", 400)
        body = self.state.tokens.issue_offline(
            shop, set(code.scopes), expiring=_truthy(params.get("expiring"))
        )
        return jsonify(body)

    def _authorize(self) -> Response | tuple[str, int]:
        # A browser reaching the loopback origin cannot name the shop in Host, so ?shop= is accepted too.
        shop = shop_from_host(request.host) or shop_from_host(request.args.get("shop"))
        if shop is None or shop not in self.state.shops:
            return "Shop not found", 404
        if request.args.get("client_id") != self.state.api_key:
            return "Oauth error invalid_request: The client_id is invalid.", 400
        redirect_uri = request.args.get("redirect_uri", "")
        if redirect_uri not in self.redirect_urls and _origin(redirect_uri) not in self.redirect_origins:
            return "Oauth error invalid_request: The redirect_uri is not whitelisted.", 400
        if request.args.getlist("grant_options[]"):
            return "Oauth error invalid_request: online (per-user) access is not emulated.", 400
        # The merchant approves at once: the emulator has no consent screen to click through.
        query = {
            "code": self.issue_code(shop),
            "host": admin_host_param(shop),
            "shop": shop,
            "state": request.args.get("state", ""),
            "timestamp": str(int(self.state.clock())),
        }
        query["hmac"] = query_hmac(query, self.state.api_secret)
        separator = "&" if urlparse(redirect_uri).query else "?"
        return redirect(f"{redirect_uri}{separator}{urlencode(query)}", code=302)


def _request_params() -> dict:
    """Parameters from the query string, a form body or a JSON body (Shopify accepts all three)."""
    params: dict = dict(request.args.items())
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            params.update(body)
    else:
        params.update(request.form.items())
    return params


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in {"1", "true"}


def _origin(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


def _oauth_error(error: str, description: str, status: int) -> tuple[Response, int]:
    return jsonify(error=error, error_description=description), status
