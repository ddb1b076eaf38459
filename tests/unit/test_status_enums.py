"""Status columns hold StrEnum members that equal the strings already stored (no migration, no new values)."""

import pytest

from app.models.compliance import ExportStatus
from app.models.inbox import InboxStatus
from app.models.integrations import MessageStatus, StoreStatus, TransactionStatus
from app.models.ledger import HoldStatus
from app.models.member import MemberStatus, ReviewStatus
from app.models.rewards import RedemptionStatus
from app.models.shop import ShopStatus
from app.models.shop_jobs import BACKFILL_OPEN, BackfillStatus
from app.models.sync_state import SegmentStatus

STORED = {
    ShopStatus: {"installed", "uninstalled"},
    InboxStatus: {"pending", "processing", "done", "ignored", "dead"},
    MemberStatus: {"active", "merged", "deleted"},
    ReviewStatus: {"open", "linked", "dismissed"},
    HoldStatus: {"held", "captured", "released"},
    RedemptionStatus: {"creating", "active", "used", "expired", "failed"},
    SegmentStatus: {"pending", "created", "invalid"},
    BackfillStatus: {"pending", "running", "downloading", "done", "failed"},
    ExportStatus: {"ready", "downloaded"},
    StoreStatus: {"mapped", "unmapped"},
    TransactionStatus: {
        "new",
        "applied",
        "waiting_original",
        "unreferenced_return",
        "no_customer",
        "ignored",
        "failed",
    },
    MessageStatus: {"scheduled", "sent", "failed", "skipped"},
}


@pytest.mark.parametrize("enum", list(STORED), ids=lambda e: e.__name__)
def test_each_member_is_the_string_stored_in_its_column(enum):
    assert {str(member) for member in enum} == STORED[enum]
    for member in enum:
        assert member == member.value == member.name.lower()  # compares and formats as the plain string
        assert f"{member}" == member.value


def test_a_backfill_is_open_until_it_is_done_or_failed():
    assert set(BACKFILL_OPEN) == set(BackfillStatus) - {BackfillStatus.DONE, BackfillStatus.FAILED}


def test_the_models_default_to_their_first_state(app):
    from app.models import BackfillJob, DataExport, IdentityReview, InboxEvent, Member, Redemption, Shop

    defaults = {
        Shop: ShopStatus.INSTALLED,
        InboxEvent: InboxStatus.PENDING,
        Member: MemberStatus.ACTIVE,
        IdentityReview: ReviewStatus.OPEN,
        Redemption: RedemptionStatus.CREATING,
        BackfillJob: BackfillStatus.PENDING,
        DataExport: ExportStatus.READY,
    }
    for model, state in defaults.items():
        assert model.__table__.c.status.default.arg == state
