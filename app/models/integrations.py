"""Integrations: Smaregi, LINE links and message outbox; Shopify Flow outbox, watch marks, action runs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.types import UTCDateTime, utcnow

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class SmaregiConnection(Model):
    """One shop's Smaregi contract: API credentials (secret encrypted), webhook secret, token cache."""

    __tablename__ = "smaregi_connections"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    contract_id: Mapped[str] = mapped_column(String(64), unique=True)  # Smaregi-Contract-Id names the shop
    environment: Mapped[str] = mapped_column(String(8), default="jp")  # jp (production) | dev (sandbox)
    client_id: Mapped[str] = mapped_column(String(128))
    client_secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Smaregi sends a fixed header the merchant configures with the webhook URL; compared in constant time.
    webhook_secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    access_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    push_enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # rank/points back to the register
    # Members who buy online but are not yet in Smaregi are created there (customer code = member number).
    export_members: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the merchant chose on the settings page: receipts credited, points spent at the register honoured.
    import_sales: Mapped[bool] = mapped_column(Boolean, default=True)
    register_points: Mapped[bool] = mapped_column(Boolean, default=True)
    # Smaregi ranks are the merchant's own rank codes: our tier handle -> their code ({"silver": "2"}).
    rank_codes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Reconciliation watermark: transactions updated up to here have been pulled.
    reconciled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SmaregiAuthState(Model):
    """The `state` of one Smaregi authorisation: issued to one shop, good once, briefly.

    Only its SHA-256 is kept, so a database read alone cannot finish somebody else's authorisation
    (https://developers.smaregi.dev/apidoc/common/ : the login flow returns `state` unchanged).
    """

    __tablename__ = "smaregi_auth_states"
    __table_args__ = (Index("ix_smaregi_auth_states_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StoreStatus(StrEnum):
    """SmaregiStore.status: mapped (name known) or unmapped (no name yet; its sales are still credited)."""

    MAPPED = "mapped"
    UNMAPPED = "unmapped"


class SmaregiStore(Model):
    """A Smaregi store id and its name (the purchase history keeps the name; unknown ids are fetched)."""

    __tablename__ = "smaregi_stores"
    __table_args__ = (UniqueConstraint("shop_id", "store_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=StoreStatus.MAPPED)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TransactionStatus(StrEnum):
    """SmaregiTransaction.status: what became of the transaction's last state."""

    NEW = "new"  # fetched, not yet applied
    APPLIED = "applied"
    WAITING_ORIGINAL = "waiting_original"  # a return before its sale
    UNREFERENCED_RETURN = "unreferenced_return"  # a return that names no original
    NO_CUSTOMER = "no_customer"  # a walk-in sale
    IGNORED = "ignored"
    FAILED = "failed"


class SmaregiTransaction(Model):
    """The last state of each Smaregi transaction we fetched, and what became of it (visible, replayable)."""

    __tablename__ = "smaregi_transactions"
    __table_args__ = (
        UniqueConstraint("shop_id", "transaction_head_id"),
        Index("ix_smaregi_transactions_customer", "shop_id", "customer_id"),
        Index("ix_smaregi_transactions_status", "shop_id", "status"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    transaction_head_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(32))  # Smaregi customerId
    store_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # sale | return | cancel | other
    refers_to: Mapped[str | None] = mapped_column(String(32))  # the original of a return or a void
    amount: Mapped[str] = mapped_column(String(24), default="0")  # Smaregi `total`, as sent
    transacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    upd_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # Smaregi updDateTime: the version
    status: Mapped[str] = mapped_column(String(24), default=TransactionStatus.APPLIED)
    spend_points: Mapped[int] = mapped_column(Integer, default=0)  # `spendPoint`: points used at the register
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SmaregiCustomer(Model):
    """A Smaregi member as last seen, and what we last pushed to it (so the register shows our numbers)."""

    __tablename__ = "smaregi_customers"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id"),
        Index("ix_smaregi_customers_code", "shop_id", "customer_code"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(32))
    customer_code: Mapped[str | None] = mapped_column(String(32))
    shopify_customer_id: Mapped[str | None] = mapped_column(String(32), index=True)  # once linked
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    pushed_rank: Mapped[str | None] = mapped_column(String(32))
    pushed_points: Mapped[int | None] = mapped_column(Integer)
    pushed_expires_on: Mapped[date | None] = mapped_column(Date)
    # The member's sync_version the register holds: the link is due while the member's version differs.
    pushed_version: Mapped[int | None] = mapped_column(Integer)
    push_due: Mapped[bool] = mapped_column(Boolean, default=False)
    push_error: Mapped[str | None] = mapped_column(Text)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LineConnection(Model):
    """One shop's LINE Official Account: channel token and secret (encrypted) and the thank-you settings."""

    __tablename__ = "line_connections"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    channel_secret_enc: Mapped[bytes] = mapped_column(LargeBinary)  # verifies LINE webhook signatures
    access_token_enc: Mapped[bytes] = mapped_column(LargeBinary)  # long-lived channel access token
    bot_basic_id: Mapped[str | None] = mapped_column(String(64))  # "@abc1234", for the add-friend link
    thank_you_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    send_at_local: Mapped[str] = mapped_column(String(5), default="20:00")  # HH:MM in the shop's time zone
    messages: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"ja": "...", "en": "..."}
    purchases_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # thank-you scan watermark
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LineLink(Model):
    """A LINE user linked to a Shopify customer of one shop, and whether they opted out of messages."""

    __tablename__ = "line_links"
    __table_args__ = (
        UniqueConstraint("shop_id", "line_user_id"),
        UniqueConstraint("shop_id", "shopify_customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    shopify_customer_id: Mapped[str] = mapped_column(String(32))
    line_user_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="ja")
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageStatus(StrEnum):
    """LineMessage.status: scheduled -> sent | failed (retries used up) | skipped (opted out / unlinked)."""

    SCHEDULED = "scheduled"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class LineMessage(Model):
    """The LINE outbox: one thank-you per member and visit day, sent at the shop's local hour, retried."""

    __tablename__ = "line_messages"
    __table_args__ = (
        # Once per visit day: a second purchase that day finds this row and schedules nothing.
        UniqueConstraint("shop_id", "shopify_customer_id", "kind", "visit_date"),
        Index("ix_line_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    shopify_customer_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="thank_you")  # thank_you | link_confirm
    visit_date: Mapped[date] = mapped_column(Date)  # the local date of the visit (or of the link)
    source_ref: Mapped[str | None] = mapped_column(String(64))  # the purchase that caused it
    store_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.SCHEDULED)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_key: Mapped[str] = mapped_column(String(36))  # X-Line-Retry-Key: a retry is never a second message
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CardLinkAttempt(Model):
    """A failed paper-card link attempt (card number + phone did not match): caps guessing per customer."""

    __tablename__ = "card_link_attempts"
    __table_args__ = (
        Index("ix_card_link_attempts_customer", "shop_id", "shopify_customer_id", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    shopify_customer_id: Mapped[str] = mapped_column(String(32))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LineLinkNonce(Model):
    """A nonce for LINE's account-link dialog: issued to one logged-in customer, good once, briefly.

    developers.line.biz/en/docs/messaging-api/linking-accounts/ (steps 8-12): the app makes the nonce after
    its own login, and the `accountLink` event names it; only its SHA-256 is kept, so a database read alone
    cannot complete somebody else's link.
    """

    __tablename__ = "line_link_nonces"
    __table_args__ = (Index("ix_line_link_nonces_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    shopify_customer_id: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="ja")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LineTaggedCustomer(Model):
    """A customer tagged `line` by a LINE CRM app: counts as LINE-linked, without a LINE user id."""

    __tablename__ = "line_tagged_customers"
    __table_args__ = (UniqueConstraint("shop_id", "shopify_customer_id"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    shopify_customer_id: Mapped[str] = mapped_column(String(32))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlowTriggerStatus(StrEnum):
    """FlowTrigger.status: pending -> sent | failed (refused by Shopify, or retries used up)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class FlowTrigger(Model):
    """The Shopify Flow outbox: one trigger per event (dedupe key), sent by flowTriggerReceive, retried."""

    __tablename__ = "flow_triggers"
    __table_args__ = (
        UniqueConstraint("shop_id", "dedupe_key"),
        Index("ix_flow_triggers_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    handle: Mapped[str] = mapped_column(String(32))  # the trigger extension's handle
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(128))  # the event: a second detection adds nothing
    status: Mapped[str] = mapped_column(String(16), default=FlowTriggerStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlowMemberMark(Model):
    """What the Flow watcher last saw of a member: a change since then is an event to send."""

    __tablename__ = "flow_member_marks"
    __table_args__ = (Index("ix_flow_member_marks_shop_version", "shop_id", "seen_version"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    seen_version: Mapped[int] = mapped_column(Integer, default=0)  # the member's sync_version compared last
    rank: Mapped[str] = mapped_column(String(32))
    line_linked: Mapped[bool] = mapped_column(Boolean, default=False)
    purchase_seen_id: Mapped[int] = mapped_column(_BIGINT, default=0)  # purchases above this id are new
    # Points expiring up to this instant were announced (one notice per expiry date).
    expiry_noticed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FlowActionRun(Model):
    """A Flow action run applied once: a redelivery with the same action_run_id changes nothing."""

    __tablename__ = "flow_action_runs"
    __table_args__ = (UniqueConstraint("shop_id", "action_run_id"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    action_run_id: Mapped[str] = mapped_column(String(128))
    handle: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
