"""Every model module, imported so the metadata (and Alembic) sees all tables."""

from app.models.compliance import DataExport
from app.models.dashboard import DashboardSummary, MonthEndClose
from app.models.inbox import InboxEvent
from app.models.integrations import (  # Smaregi and LINE
    CardLinkAttempt,
    LineConnection,
    LineLink,
    LineMessage,
    SmaregiConnection,
    SmaregiCustomer,
    SmaregiStore,
    SmaregiTransaction,
)
from app.models.ledger import LedgerPosting, LedgerTransaction, PointHold, PointLot
from app.models.member import CustomerTombstone, ExternalLink, IdentityReview, Member
from app.models.processes import ProcessHeartbeat  # noqa: F401  (and the NOTIFY triggers, created with the tables)
from app.models.purchase import Purchase, PurchaseRefund
from app.models.rank import RankSnapshot
from app.models.rewards import Campaign, CampaignAward, Redemption
from app.models.shop import OAuthState, Shop, ShopToken
from app.models.shop_jobs import BackfillJob, ShopLease
from app.models.sync_state import FreshnessSample, MemberSyncState, ShopSegment, ShopSyncStatus

__all__ = [
    "BackfillJob",
    "Campaign",
    "CampaignAward",
    "CardLinkAttempt",
    "CustomerTombstone",
    "DashboardSummary",
    "DataExport",
    "ExternalLink",
    "FreshnessSample",
    "IdentityReview",
    "InboxEvent",
    "LedgerPosting",
    "LedgerTransaction",
    "LineConnection",
    "LineLink",
    "LineMessage",
    "Member",
    "MemberSyncState",
    "MonthEndClose",
    "OAuthState",
    "PointHold",
    "PointLot",
    "Purchase",
    "PurchaseRefund",
    "RankSnapshot",
    "Redemption",
    "Shop",
    "ShopLease",
    "ShopSegment",
    "ShopSyncStatus",
    "ShopToken",
    "SmaregiConnection",
    "SmaregiCustomer",
    "SmaregiStore",
    "SmaregiTransaction",
]
