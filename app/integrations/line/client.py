"""LINE Messaging API through line-bot-sdk v3, with its HTTP carried by our httpx client.

The SDK builds and validates the requests (paths, models, X-Line-Retry-Key) and maps errors to exceptions;
`_HttpxPool` stands in for its urllib3 pool so calls share our timeouts and the test transport hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from linebot.v3.messaging import (
    ApiClient,
    ButtonsTemplate,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    TemplateMessage,
    TextMessage,
    URIAction,
)
from linebot.v3.messaging.exceptions import ApiException

from app.http_client import http_client

API_HOST = "https://api.line.me"


@dataclass
class _Reply:
    """The slice of urllib3's HTTPResponse the SDK reads."""

    status: int
    reason: str
    data: bytes
    headers: dict[str, str]


class _HttpxPool:
    """Implements `pool_manager.request(...)` as the SDK's REST client calls it, over an httpx.Client."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def request(
        self, method: str, url: str, body: Any = None, fields: Any = None, headers: Any = None, **_: Any
    ) -> _Reply:
        try:
            response = self.http.request(method, url, content=body, headers=dict(headers or {}))
        except httpx.HTTPError as exc:
            # Surface as the SDK's own error with status 0: retryable, like a 5xx.
            raise ApiException(status=0, reason=type(exc).__name__) from exc
        return _Reply(response.status_code, response.reason_phrase, response.content, dict(response.headers))


class LineSendError(Exception):
    """A push failed; `retryable` says whether the same request may be sent again later."""

    def __init__(self, message: str, status: int, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def messaging_api(access_token: str, http: httpx.Client | None = None, host: str = API_HOST) -> MessagingApi:
    """A MessagingApi whose requests go through `http` (default: the integration client for "line")."""
    api_client = ApiClient(Configuration(host=host, access_token=access_token))
    api_client.rest_client.pool_manager = _HttpxPool(http or http_client("line", retries=1))
    return MessagingApi(api_client)


def push_text(api: MessagingApi, to: str, text: str, retry_key: str) -> None:
    """Push one text message; the retry key makes a repeated request a no-op on LINE's side (409).

    developers.line.biz/en/docs/messaging-api/retrying-api-request: 409 with a retry key means an earlier try
    was accepted, so it counts as sent; 429 and 5xx may be retried; other 4xx will fail again.
    """
    try:
        api.push_message(
            PushMessageRequest(to=to, messages=[TextMessage(text=text)]), x_line_retry_key=retry_key
        )
    except ApiException as exc:
        status = int(exc.status or 0)
        if status == 409:
            return
        retryable = status == 0 or status == 429 or status >= 500
        raise LineSendError(f"LINE push answered {status or 'no response'}", status, retryable) from None


class LineApiError(Exception):
    """A call other than a push failed (network, auth, or LINE refusing it)."""


def issue_link_token(api: MessagingApi, user_id: str) -> str:
    """A link token for one LINE user: valid 10 minutes and once (the account-link dialog spends it).

    developers.line.biz/en/reference/messaging-api/#issue-link-token: `POST /v2/bot/user/{userId}/linkToken`.
    """
    try:
        return str(api.issue_link_token(user_id).link_token)
    except ApiException as exc:
        raise LineApiError(f"LINE linkToken answered {exc.status or 'no response'}") from None


def reply_button(api: MessagingApi, reply_token: str, text: str, label: str, uri: str) -> None:
    """Reply with one buttons template whose button opens `uri` (text up to 160, label up to 20 characters).

    developers.line.biz/en/reference/messaging-api/#send-reply-message and #buttons: replies cost no quota.
    """
    message = TemplateMessage(
        alt_text=text[:400],
        template=ButtonsTemplate(text=text[:160], actions=[URIAction(label=label[:20], uri=uri)]),
    )
    try:
        api.reply_message(ReplyMessageRequest(reply_token=reply_token, messages=[message]))
    except ApiException as exc:
        raise LineApiError(f"LINE reply answered {exc.status or 'no response'}") from None


def reply_text(api: MessagingApi, reply_token: str, text: str) -> None:
    """Reply with one text message."""
    try:
        api.reply_message(
            ReplyMessageRequest(reply_token=reply_token, messages=[TextMessage(text=text[:5000])])
        )
    except ApiException as exc:
        raise LineApiError(f"LINE reply answered {exc.status or 'no response'}") from None
