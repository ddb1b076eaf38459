"""Test support for the GraphQL half: a shop with a token, a movable clock and a `gql()` caller."""

from __future__ import annotations

from typing import Any

from emulator.graphql_view import run_graphql
from emulator.state import EmulatorState, ShopState

SHOP = "tsunagu-test.myshopify.com"
API_KEY = "0123456789abcdef0123456789abcdef"


class FakeClock:
    """A clock tests move by hand (seconds since the epoch)."""

    def __init__(self, now: float = 1_763_856_000.0) -> None:  # 2025-11-23T00:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Harness:
    """One installed shop and an offline token with the app's scopes (or the ones given)."""

    def __init__(self, plan: str = "standard", scopes: set[str] | None = None) -> None:
        self.clock = FakeClock()
        self.state = EmulatorState(API_KEY, "shpss_test_secret", clock=self.clock)
        self.events: list[tuple[str, str, dict]] = []
        self.state.on_event = lambda shop, topic, payload: self.events.append((shop, topic, payload))
        self.shop: ShopState = self.state.install_shop(SHOP, plan=plan)
        granted = scopes if scopes is not None else set(self.state.config.scopes)
        self.token = self.state.tokens.issue_offline(SHOP, granted)["access_token"]

    def call(self, query: str, variables: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        """Raw (status, body)."""
        return run_graphql(self.state, SHOP, token or self.token, {"query": query, "variables": variables})

    def gql(self, query: str, variables: dict | None = None) -> dict[str, Any]:
        """Body of a 200 response."""
        status, body = self.call(query, variables)
        assert status == 200, body
        return body

    def data(self, query: str, variables: dict | None = None) -> dict[str, Any]:
        """`data` of a response that must have no errors."""
        body = self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]
