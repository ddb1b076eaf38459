"""Staff-accepted merges of two Shopify customers: Shopify merges (it is the system of record), its
`customers/merge` webhook then moves our ledger, history and rank through `apply_merge`.

We never merge two Shopify customers locally first: Shopify decides which customer is kept
(`resultingCustomerId` is authoritative), and a local merge that Shopify later refused would leave the app
and Shopify disagreeing about who the member is.
https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/customerMerge
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models.member import Member
from app.models.shop import Shop
from app.shopify.client import AdminClient
from app.shopify.ids import customer_gid


class NotShopifyCustomers(ValueError):
    """Both members must be Shopify customers (a store-only member is merged locally instead)."""


@dataclass(frozen=True)
class MergeRequested:
    """What Shopify answered: the customer it keeps and its asynchronous job."""

    kept_customer_gid: str
    job_gid: str | None
    job_done: bool


def request_customer_merge(shop: Shop, keep: Member, fold: Member) -> MergeRequested:
    """Ask Shopify to merge `fold`'s customer into `keep`'s; raises ShopifyUserErrors when Shopify refuses."""
    if not keep.shopify_customer_id or not fold.shopify_customer_id:
        raise NotShopifyCustomers("both members need a Shopify customer")
    if keep.shopify_customer_id == fold.shopify_customer_id:
        raise NotShopifyCustomers("a customer cannot be merged with itself")
    kept = customer_gid(keep.shopify_customer_id)
    data = AdminClient(shop).execute(
        "customer_merge",
        {
            "customerOneId": customer_gid(fold.shopify_customer_id),
            "customerTwoId": kept,
            # Shopify keeps the customer whose email is kept: name the one staff chose.
            "overrideFields": {"customerIdOfEmailToKeep": kept},
        },
    )["customerMerge"]
    job = data.get("job") or {}
    return MergeRequested(data["resultingCustomerId"], job.get("id"), bool(job.get("done")))
