"""Shopify's global ids (GIDs) for the resources the app names in GraphQL calls.

https://shopify.dev/docs/api/usage/gids: a GID is `gid://shopify/<Type>/<numeric id>`; REST payloads and
webhooks carry the numeric id, GraphQL the GID.
"""

from __future__ import annotations


def customer_gid(customer_id: str | int) -> str:
    """The GraphQL id of a customer, whether given the numeric (REST) id or already the GID."""
    value = str(customer_id)
    return value if value.startswith("gid://") else f"gid://shopify/Customer/{value}"
