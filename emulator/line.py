"""A LINE Messaging API stand-in: the push endpoint with Bearer auth, X-Line-Retry-Key semantics, faults.

developers.line.biz/en/reference/messaging-api/#send-push-message: `POST /v2/bot/message/push` with
`{"to", "messages": [...]}` (1-5 messages, text up to 5000 characters); a retry key that was already accepted
answers 409; 429 when over the rate limit. Webhook bodies for the app are signed here like LINE signs them.

Account link (developers.line.biz/en/docs/messaging-api/linking-accounts/ and reference #issue-link-token):
`POST /v2/bot/user/{userId}/linkToken` answers `{"linkToken"}`, valid 10 minutes and once; the dialog at
`https://access.line.me/dialog/bot/accountLink?linkToken&nonce` is modelled by `account_link()`, which spends
the token and returns the `accountLink` event LINE would send (result "failed" for a spent, expired or unknown
token; reference #account-link-event: no replyToken then).
Replies: `POST /v2/bot/message/reply` (reference #send-reply-message).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from werkzeug.wrappers import Request, Response


@dataclass
class Pushed:
    """One accepted push."""

    to: str
    texts: list[str]
    retry_key: str | None


class LineStandIn:
    """State plus a WSGI app for api.line.me."""

    def __init__(self, access_token: str = "line-channel-token") -> None:
        self.access_token = access_token
        self.pushed: list[Pushed] = []
        self.push_requests = 0  # every authorised push request, accepted or not (duplicates show here)
        self.accepted_keys: set[str] = set()
        self.fail_next: list[int] = []  # statuses answered (and the request NOT accepted)
        self.lose_next_responses = 0  # accept the push, then answer 500 (the reply lost on the way back)
        self.blocked_users: set[str] = set()  # pushes to them answer 400, like an unknown/blocked user id
        self.link_tokens: dict[str, tuple[str, float]] = {}  # live link token -> (user id, expires at)
        self.replies: list[dict[str, Any]] = []  # accepted reply bodies
        self.clock = time.time  # tests move it to expire link tokens
        self._lock = threading.Lock()

    def transport(self) -> httpx.BaseTransport:
        return httpx.WSGITransport(app=self)

    def texts_to(self, user_id: str) -> list[str]:
        return [text for p in self.pushed if p.to == user_id for text in p.texts]

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            response = self._handle(request)
        return response(environ, start_response)

    def account_link(self, dialog_url: str) -> dict[str, Any]:
        """What LINE does when the user opens the account-link dialog: the `accountLink` event it sends."""
        query = parse_qs(urlparse(dialog_url).query)
        token, nonce = query.get("linkToken", [""])[0], query.get("nonce", [""])[0]
        with self._lock:
            user_id, expires = self.link_tokens.pop(token, ("", 0.0))
        ok = bool(user_id) and self.clock() < expires
        return account_link_event(user_id or "U" + "0" * 32, nonce, "ok" if ok else "failed")

    def _handle(self, request: Request) -> Response:
        if request.host.split(":")[0] != "api.line.me":
            return _json({"message": "Not found"}, 404)
        if request.method != "POST":
            return _json({"message": "Method not allowed"}, 405)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return _json({"message": "Authentication failed"}, 401)
        parts = request.path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["v2", "bot", "user"] and parts[4] == "linkToken":
            token = secrets.token_urlsafe(24)
            self.link_tokens[token] = (parts[3], self.clock() + 600)
            return _json({"linkToken": token})
        if request.path == "/v2/bot/message/reply":
            body = request.get_json(silent=True) or {}
            if not body.get("replyToken") or not 1 <= len(body.get("messages") or []) <= 5:
                return _json({"message": "The request body has 1 error(s)"}, 400)
            self.replies.append(body)
            return _json({"sentMessages": [{"id": str(uuid.uuid4().int)[:18]} for _ in body["messages"]]})
        if request.path != "/v2/bot/message/push":
            return _json({"message": "Not found"}, 404)
        self.push_requests += 1
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return _json({"message": "The retry key is invalid"}, 400)
            if key in self.accepted_keys:
                return _json({"message": "The retry key is already accepted"}, 409)
        if self.fail_next:
            return _json({"message": "Internal server error"}, self.fail_next.pop(0))
        body = request.get_json(silent=True) or {}
        messages = body.get("messages")
        if not body.get("to") or not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return _json({"message": "The request body has 1 error(s)"}, 400)
        if any(m.get("type") != "text" or not 0 < len(m.get("text", "")) <= 5000 for m in messages):
            return _json({"message": "The request body has 1 error(s)"}, 400)
        if body["to"] in self.blocked_users:
            return _json({"message": "Failed to send messages"}, 400)
        if key is not None:
            self.accepted_keys.add(key)
        self.pushed.append(Pushed(body["to"], [m["text"] for m in messages], key))
        if self.lose_next_responses:
            self.lose_next_responses -= 1
            return _json({"message": "Internal server error"}, 500)
        return _json({"sentMessages": [{"id": str(uuid.uuid4().int)[:18]} for _ in messages]})


def signed_webhook(
    channel_secret: str, events: list[dict[str, Any]], destination: str = "Ubot"
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a LINE webhook delivery (X-Line-Signature = base64 HMAC-SHA256 of the body)."""
    body = json.dumps({"destination": destination, "events": events}, ensure_ascii=False).encode()
    signature = base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Line-Signature": signature}, body


def text_event(user_id: str, text: str) -> dict[str, Any]:
    """A message event with text from one user."""
    return {
        "type": "message",
        "mode": "active",
        "timestamp": 1700000000000,
        "webhookEventId": uuid.uuid4().hex,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": uuid.uuid4().hex,
        "source": {"type": "user", "userId": user_id},
        "message": {"type": "text", "id": "1", "quoteToken": "q", "text": text},
    }


def follow_event(user_id: str, kind: str = "unfollow") -> dict[str, Any]:
    """A follow or unfollow (block) event."""
    event = {
        "type": kind,
        "mode": "active",
        "timestamp": 1700000000000,
        "webhookEventId": uuid.uuid4().hex,
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user_id},
    }
    if kind == "follow":
        event["replyToken"] = uuid.uuid4().hex
        event["follow"] = {"isUnblocked": True}
    return event


def account_link_event(user_id: str, nonce: str, result: str = "ok") -> dict[str, Any]:
    """An accountLink event (a replyToken only when linking succeeded)."""
    event: dict[str, Any] = {
        "type": "accountLink",
        "mode": "active",
        "timestamp": 1700000000000,
        "webhookEventId": uuid.uuid4().hex,
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user_id},
        "link": {"result": result, "nonce": nonce},
    }
    if result == "ok":
        event["replyToken"] = uuid.uuid4().hex
    return event


def postback_event(user_id: str, data: str) -> dict[str, Any]:
    """A postback event, e.g. from a rich-menu button."""
    return {
        "type": "postback",
        "mode": "active",
        "timestamp": 1700000000000,
        "webhookEventId": uuid.uuid4().hex,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": uuid.uuid4().hex,
        "source": {"type": "user", "userId": user_id},
        "postback": {"data": data},
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
