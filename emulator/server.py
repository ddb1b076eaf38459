"""Assembles the emulator: GraphQL, inspection, OAuth, admin stand-in, webhooks and faults in one app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from flask import Flask, jsonify

from emulator.admin_standin import create_admin_blueprint
from emulator.faults import FaultInjector
from emulator.graphql_view import create_graphql_blueprint
from emulator.id_tokens import IdTokenMinter
from emulator.inspect_api import create_inspect_blueprint
from emulator.oauth import OAuthProvider
from emulator.state import EmulatorState
from emulator.webhook_sender import WebhookSender

EXTENSION = "tsunagu_emulator"


@dataclass
class Emulator:
    """Handles tests use to steer a running emulator app."""

    state: EmulatorState
    oauth: OAuthProvider
    faults: FaultInjector
    id_tokens: IdTokenMinter
    webhooks: WebhookSender | None
    app_url: str | None


def create_emulator(
    state: EmulatorState,
    app_url: str | None = None,
    webhook_target: str | httpx.Client | Callable | None = None,
    *,
    webhook_url: str | None = None,
    scopes: set[str] | None = None,
    seed: int = 0,
    webhook_time_scale: float = 1.0,
) -> Flask:
    """The emulator as a WSGI app; `webhook_target` (URL, client or WSGI app) receives state events."""
    app = Flask("emulator")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.register_blueprint(create_graphql_blueprint(state))
    app.register_blueprint(create_inspect_blueprint(state))
    oauth = OAuthProvider(state, scopes=scopes, redirect_origins=(app_url,) if app_url else ())
    app.register_blueprint(oauth.blueprint())
    if app_url:
        app.register_blueprint(create_admin_blueprint(state, app_url))

    @app.get("/_emulator/health")
    def health():
        # The CLI seeds before it listens, so an answer here means the demo shop is loaded.
        return jsonify(ok=True, shops={domain: len(shop.orders) for domain, shop in state.shops.items()})

    faults = FaultInjector(app.wsgi_app, state, seed=seed)
    app.wsgi_app = faults  # type: ignore[method-assign]
    sender = None
    if webhook_target is not None:
        sender = WebhookSender(
            state.api_secret,
            webhook_target,
            url=webhook_url,
            seed=seed,
            time_scale=webhook_time_scale,
            clock=state.clock,
        )
        state.on_event = subscribed_events(state, sender.enqueue)
    app.extensions[EXTENSION] = Emulator(
        state=state,
        oauth=oauth,
        faults=faults,
        id_tokens=IdTokenMinter(state.api_key, state.api_secret, clock=state.clock),
        webhooks=sender,
        app_url=app_url,
    )
    return app


def emulator_of(app: Flask) -> Emulator:
    """The handles of an app made by create_emulator."""
    return app.extensions[EXTENSION]


def subscribed_events(state: EmulatorState, deliver: Callable[[str, str, dict], None]):
    """An on_event hook passing on only topics the app subscribed to (TOML or webhookSubscriptionCreate)."""

    def hook(shop: str, topic: str, payload: dict) -> None:
        wanted = {_enum(t) for t in state.config.webhook_topics}
        shop_state = state.shops.get(shop)
        if shop_state is not None:
            wanted |= {_enum(sub["topic"]) for sub in shop_state.webhook_subscriptions}
        if _enum(topic) in wanted:
            fields = state.config.include_fields.get(topic)
            deliver(shop, topic, include_only(payload, fields) if fields else payload)

    return hook


def include_only(payload: Any, fields: list[str]) -> Any:
    """A webhook body trimmed to a subscription's `include_fields`; a period names a nested field, and a
    list's items are trimmed alike (https://shopify.dev/docs/apps/build/webhooks/customize/modify-payloads)."""
    if isinstance(payload, list):
        return [include_only(item, fields) for item in payload]
    if not isinstance(payload, dict):
        return payload
    nested: dict[str, list[str]] = {}
    whole: set[str] = set()
    for name in fields:
        head, _, rest = name.partition(".")
        if rest:
            nested.setdefault(head, []).append(rest)
        else:
            whole.add(head)
    out = {}
    for key, value in payload.items():
        if key in whole:
            out[key] = value
        elif key in nested:
            out[key] = include_only(value, nested[key]) if isinstance(value, dict | list) else value
    return out


def _enum(topic: str) -> str:
    """orders/create and ORDERS_CREATE name the same topic."""
    return topic.upper().replace("/", "_")
