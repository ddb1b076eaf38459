"""Exceptions for everything that can go wrong talking to Shopify; callers catch these, never httpx's."""

from __future__ import annotations

from typing import Any


class ShopifyError(Exception):
    """Base class: a call to Shopify did not produce the data asked for."""


class ShopifyAuthError(ShopifyError):
    """The shop's token is missing, revoked or cannot be refreshed; the merchant must open the app again."""


class ShopifyUnavailable(ShopifyError):
    """Shopify answered 5xx/429 or could not be reached, even after retries; try again later."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ShopifyThrottled(ShopifyError):
    """The shop's GraphQL cost bucket is empty (`THROTTLED`); wait as the cost info says."""

    def __init__(self, message: str, *, cost: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.cost = cost or {}

    @property
    def retry_after(self) -> float:
        """Seconds until the bucket holds the requested cost again, from `extensions.cost`."""
        status = self.cost.get("throttleStatus") or {}
        requested = float(self.cost.get("requestedQueryCost") or 0)
        available = float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 0)
        if rate <= 0:
            return 1.0
        return max(0.0, (requested - available) / rate)


class ShopifyGraphQLError(ShopifyError):
    """The response carried top-level `errors` (invalid document, access denied, not found...)."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @property
    def codes(self) -> set[str]:
        """The `extensions.code` values of the errors (e.g. ACCESS_DENIED)."""
        return {str((e.get("extensions") or {}).get("code")) for e in self.errors if e.get("extensions")}


class ShopifyUserErrors(ShopifyError):
    """A mutation ran but refused the input: its payload's `userErrors` are carried as given."""

    def __init__(self, mutation: str, user_errors: list[dict[str, Any]], data: dict[str, Any]) -> None:
        super().__init__(f"{mutation}: {len(user_errors)} user error(s)")
        self.mutation = mutation
        self.user_errors = user_errors
        self.data = data
