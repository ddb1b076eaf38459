"""The plain-WSGI webhook endpoint in front of Flask: what Flask's hooks gave the route, it gives itself."""

from __future__ import annotations

import io
import json
import logging
import uuid

from sqlalchemy import func, select

from app.models import InboxEvent
from app.observability.logs import JsonFormatter
from tests.integration.webhooks.support import SHOP, headers, order_body, post


def _environ(body: bytes, hdrs: dict[str, str], **extra) -> dict:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "CONTENT_LENGTH": str(len(body)),
    }
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in hdrs.items()})
    environ.update(extra)
    return environ


def _call(app, environ: dict) -> tuple[str, dict[str, str], bytes]:
    seen: dict = {}

    def start_response(status, response_headers, exc_info=None):
        seen.update(status=status, headers=dict(response_headers))

    body = b"".join(app.wsgi_app(environ, start_response))
    return seen["status"], seen["headers"], body


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(InboxEvent))


def test_other_paths_and_methods(client):
    assert client.get("/healthz").status_code == 200  # Flask still serves the rest
    assert client.post("/webhooks/").status_code == 404  # only the exact path, as the Flask route was
    response = client.get("/webhooks")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_headers_flask_used_to_add_are_there(client, shop):
    given = "req-webhook-0123456789"
    body = json.dumps(order_body(1, "100")).encode()
    response = client.post(
        "/webhooks", data=body, headers=headers("orders/create", body) | {"X-Request-ID": given}
    )
    assert response.status_code == 200 and response.headers["X-Request-ID"] == given
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    made = client.post("/webhooks", data=b"{}", headers={"X-Request-ID": "bad id"}).headers["X-Request-ID"]
    assert len(made) == 32 and made != "bad id"


def test_declared_length_over_the_limit_is_413_without_reading(app, shop, session):
    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read")

    body = b"{}"
    environ = _environ(body, headers("orders/create", body), CONTENT_LENGTH=str(3 * 1024 * 1024))
    environ["wsgi.input"] = Unreadable()
    status, hdrs, answer = _call(app, environ)
    assert hdrs["X-Content-Type-Options"] == "nosniff"
    assert status.startswith("413") and json.loads(answer) == {"error": "too_large"}
    assert _count(session) == 0


def test_chunked_bodies_are_read_up_to_the_limit(app, shop, session):
    body = json.dumps(order_body(7, "100")).encode()
    chunked = _environ(
        body, headers("orders/create", body), CONTENT_LENGTH="", **{"wsgi.input_terminated": True}
    )
    assert _call(app, chunked)[0].startswith("200")
    assert _count(session) == 1
    big = json.dumps({"id": 1, "note": "x" * (2 * 1024 * 1024)}).encode()
    over = _environ(big, headers("orders/create", big), CONTENT_LENGTH="", **{"wsgi.input_terminated": True})
    assert _call(app, over)[0].startswith("413")
    # Without a length and not terminated by the server, the body is empty (a read could block): 401.
    unterminated = _environ(body, headers("orders/create", body), CONTENT_LENGTH="")
    assert _call(app, unterminated)[0].startswith("401")
    assert _count(session) == 1


def test_the_delivery_line_is_json_with_its_fields_and_redacted_unless_plain(client, shop, caplog):
    caplog.set_level(logging.INFO)
    caplog.handler.setFormatter(JsonFormatter())
    plain_id, odd_id = str(uuid.uuid4()), "someone@example.com"
    post(client, "orders/create", order_body(1, "100"), webhook_id=plain_id)
    post(client, "orders/create", order_body(2, "100"), webhook_id=odd_id)
    lines = [json.loads(line) for line in caplog.text.splitlines()]
    webhook = [line for line in lines if line["logger"] == "app.webhooks.views"]
    assert [line["outcome"] for line in webhook] == ["recorded", "recorded"]
    assert all(line["shop"] == SHOP and line["topic"] == "orders/create" for line in webhook)
    assert all(len(line["request_id"]) == 32 for line in webhook)
    assert plain_id in webhook[0]["message"]
    assert "someone@example.com" not in caplog.text and "[email]" in webhook[1]["message"]


def test_an_unexpected_error_is_500_logged_by_type_only(client, shop, caplog, monkeypatch):
    from app.webhooks import views

    def broken(*args, **kwargs):
        raise RuntimeError("row value someone@example.com")

    monkeypatch.setattr(views, "receive", broken)
    caplog.set_level(logging.INFO)
    caplog.handler.setFormatter(JsonFormatter())
    response = post(client, "orders/create", order_body(1, "100"))
    assert response.status_code == 500 and response.get_json() == {"error": "internal_error"}
    assert "someone@example.com" not in caplog.text
    (line,) = [json.loads(x) for x in caplog.text.splitlines() if "unhandled" in x]
    assert line["exception"]["type"] == "RuntimeError"
