"""The LINE outbox sender: due messages one at a time, opt-out re-checked, failures retried then visible."""

from __future__ import annotations

import logging
import random
from collections import Counter
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.http_client import http_client
from app.i18n import format_date, format_money, translate
from app.integrations.line.client import LineSendError, messaging_api, push_text
from app.integrations.secrets import unseal
from app.models.integrations import LineConnection, LineLink, LineMessage, MessageStatus
from app.models.member import Member
from app.models.purchase import Purchase
from app.models.rewards import Campaign, CampaignAward
from app.models.shop import Shop
from app.models.types import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BASE_DELAY = timedelta(minutes=1)

DEFAULT_TEXT = {
    "thank_you": {
        "ja": "本日は{store}にご来店いただき、ありがとうございました。またのお越しをお待ちしております。",
        "en": "Thank you for visiting {store} today. We look forward to seeing you again.",
    },
    "link_confirm": {
        "ja": "LINEと会員証の連携が完了しました。配信を止めるには「停止」と送ってください。",
        "en": "Your LINE account is now linked to your member card. Send STOP to stop messages.",
    },
    # {codes}: one line per reward code that became usable that day (REWARD_LINE).
    "reward_code": {
        "ja": "{store}から特典クーポンをお届けします。\n{codes}\nお会計時にコードを入力してください。",
        "en": "A reward from {store}:\n{codes}\nEnter the code at checkout.",
    },
}
REWARD_LINE = {"ja": "{reward}：{code}（{until}まで）", "en": "{reward}: {code} (until {until})"}
STORE_FALLBACK = {"ja": "当店", "en": "our store"}


def message_text(
    connection: LineConnection, kind: str, language: str, store_name: str | None, codes: str = ""
) -> str:
    """The merchant's text for this kind and language (or ours), with {store} (and {codes}) filled in."""
    lang = language if language in ("ja", "en") else "ja"
    custom = (connection.messages or {}).get(kind, {}) if isinstance(connection.messages, dict) else {}
    template = (custom.get(lang) if isinstance(custom, dict) else None) or DEFAULT_TEXT[kind][lang]
    text = template.replace("{store}", store_name or STORE_FALLBACK[lang]).replace("{codes}", codes)
    return text[:5000]  # LINE's text limit


def reward_codes_text(session: Session, message: LineMessage, language: str, now: datetime) -> str:
    """The reward codes that became usable on the message's day and are still open, one line each."""
    lang = language if language in ("ja", "en") else "ja"
    shop = session.get(Shop, message.shop_id)
    tz = (shop.timezone if shop else None) or "Asia/Tokyo"
    start = datetime.combine(message.visit_date, time.min, tzinfo=ZoneInfo(tz))
    rows = session.execute(
        select(CampaignAward, Campaign)
        .join(Campaign, Campaign.id == CampaignAward.campaign_id)
        .join(Member, Member.id == CampaignAward.member_id)
        .where(
            CampaignAward.shop_id == message.shop_id,
            Member.shopify_customer_id == message.shopify_customer_id,
            CampaignAward.code_status == "active",
            CampaignAward.code_expires_at > now,
            CampaignAward.updated_at >= start,
            CampaignAward.updated_at < start + timedelta(days=1),
        )
        .order_by(CampaignAward.id)
    ).all()
    lines = []
    for award, campaign in rows:
        value = campaign.code_value or Decimal(0)
        if campaign.code_kind == "free_shipping":
            reward = translate("reward.free_shipping", lang)
        elif campaign.code_kind == "percentage":
            reward = translate("reward.percent_off", lang, percent=f"{value.normalize():f}")
        else:
            reward = translate(
                "reward.amount_off", lang, amount=format_money(value, shop.currency if shop else "JPY", lang)
            )
        until = format_date(award.code_expires_at, tz, lang)
        lines.append(REWARD_LINE[lang].format(reward=reward, code=award.code, until=until))
    return "\n".join(lines)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes with jitter, so a LINE outage is not hammered in lockstep."""
    base = BASE_DELAY * (2 ** max(attempts - 1, 0))
    return base / 2 + base * random.uniform(0, 0.5)


def _claim_one(session: Session, now: datetime) -> LineMessage | None:
    # SKIP LOCKED: several workers can send side by side, never the same message (SQLite: one worker).
    return session.scalar(
        select(LineMessage)
        .where(LineMessage.status == MessageStatus.SCHEDULED, LineMessage.next_attempt_at <= now)
        .order_by(LineMessage.next_attempt_at, LineMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def send_due(
    session: Session, now: datetime | None = None, limit: int = 100, http: httpx.Client | None = None
) -> Counter:
    """Send up to `limit` due messages, committing after each; returns counts by outcome."""
    outcomes: Counter = Counter()
    # One HTTP client (connection pool) for the batch, closed at the end, unless the caller brought one.
    client = http or http_client("line", retries=1)
    try:
        for _ in range(limit):
            current = now or utcnow()
            message = _claim_one(session, current)
            if message is None:
                break
            outcomes[_send_one(session, message, current, client)] += 1
            session.commit()
    finally:
        if http is None:
            client.close()
    return outcomes


def _store_name(session: Session, message: LineMessage) -> str | None:
    """The store named when the visit was queued, else its name now (the syncer names new stores)."""
    if message.store_name or not message.source_ref or ":" not in message.source_ref:
        return message.store_name
    source, source_id = message.source_ref.split(":", 1)
    return session.scalar(
        select(Purchase.location_name).where(
            Purchase.shop_id == message.shop_id, Purchase.source == source, Purchase.source_id == source_id
        )
    )


def _send_one(session: Session, message: LineMessage, now: datetime, http: httpx.Client) -> str:
    link = session.scalar(
        select(LineLink).where(
            LineLink.shop_id == message.shop_id, LineLink.shopify_customer_id == message.shopify_customer_id
        )
    )
    connection = session.get(LineConnection, message.shop_id)
    if link is None or link.opted_out_at is not None or connection is None:
        message.status = MessageStatus.SKIPPED
        message.last_error = "opted out" if link is not None and link.opted_out_at else "not linked"
        return "skipped"
    codes = reward_codes_text(session, message, link.language, now) if message.kind == "reward_code" else ""
    if message.kind == "reward_code" and not codes:
        message.status, message.last_error = MessageStatus.SKIPPED, "no open reward code"
        return "skipped"
    message.attempts += 1
    try:
        token = unseal(connection.shop_id, "line_access_token", connection.access_token_enc)
        text = message_text(connection, message.kind, link.language, _store_name(session, message), codes)
        push_text(messaging_api(token, http), link.line_user_id, text, message.retry_key)
    except LineSendError as exc:
        message.last_error = str(exc)
        if exc.retryable and message.attempts < MAX_ATTEMPTS:
            message.next_attempt_at = now + backoff(message.attempts)
            return "retry"
        message.status = MessageStatus.FAILED
        log.warning("LINE message %s failed for good: %s", message.id, exc)
        return "failed"
    message.status, message.sent_at, message.last_error = MessageStatus.SENT, now, None
    return "sent"
