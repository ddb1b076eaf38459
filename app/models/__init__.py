"""Every model module, imported so the metadata (and Alembic) sees all tables."""

from app.models.inbox import InboxEvent
from app.models.shop import OAuthState, Shop, ShopToken
from app.models.sync import BackfillJob, FreshnessSample, ShopLease, ShopSyncStatus

__all__ = [
    "BackfillJob",
    "FreshnessSample",
    "InboxEvent",
    "OAuthState",
    "Shop",
    "ShopLease",
    "ShopSyncStatus",
    "ShopToken",
]
