"""Log lines: one JSON object each, fields lifted from `key=%s` templates, no personal data or tokens."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from app.config import ConfigError, load_settings
from app.observability.logs import JsonFormatter, TextFormatter, configure, log_context, redact
from tests.conftest import TEST_ENV


def _record(msg: str, *args, level=logging.INFO, name="app.jobs.worker", exc_info=None, **extra):
    record = logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def _line(record) -> dict:
    text = JsonFormatter().format(record)
    assert "\n" not in text
    return json.loads(text)


def test_a_line_is_one_json_object_with_the_fields_operators_filter_on():
    line = _line(
        _record(
            "inbox row=%d topic=%s shop=%s delivery=%s outcome=%s",
            7,
            "orders/create",
            "a.myshopify.com",
            "d1",
            "done",
        )
    )
    assert line["level"] == "INFO" and line["logger"] == "app.jobs.worker"
    assert line["timestamp"].endswith("Z") and "T" in line["timestamp"]
    assert line["message"] == "inbox row=7 topic=orders/create shop=a.myshopify.com delivery=d1 outcome=done"
    assert (line["topic"], line["shop"], line["outcome"]) == ("orders/create", "a.myshopify.com", "done")
    assert "request_id" not in line  # outside a request


def test_fields_come_from_the_context_or_extra_and_unknown_extras_are_dropped():
    with log_context(shop="b.myshopify.com", topic="customers/create", email="x@example.com"):
        line = _line(_record("processing", outcome="ignored", email="x@example.com", phone="+819012345678"))
    assert (line["shop"], line["topic"], line["outcome"]) == (
        "b.myshopify.com",
        "customers/create",
        "ignored",
    )
    assert "x@example.com" not in json.dumps(line) and "+81" not in json.dumps(line)


def test_mismatched_templates_lift_nothing():
    assert "shop" not in _line(_record("shop=%(shop)s", {"shop": "a.myshopify.com"}))  # mapping style
    assert _line(_record("100%% shop=%s", "a.myshopify.com"))["shop"] == "a.myshopify.com"


@pytest.mark.parametrize(
    "text,leak",
    [
        ("customer jane.doe+1@example.co.jp failed", "jane.doe+1@example.co.jp"),
        ("phone +819012345678 rejected", "+819012345678"),
        ("phone 090-1234-5678 rejected", "090-1234-5678"),
        ("phone 09012345678 rejected", "09012345678"),
        ("token shpat_0123456789abcdef0123 refused", "shpat_0123456789abcdef0123"),
        ("Authorization: Bearer abc.def-ghi refused", "abc.def-ghi"),
        ("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl refused", "eyJhbGciOiJIUzI1NiJ9"),
        (
            "GET https://storage.example/bulk.jsonl?X-Goog-Signature=abc123&e=1 failed",
            "X-Goog-Signature=abc123",
        ),
        ("GET /?shop=a.myshopify.com&id_token=zzz&hmac=beef", "id_token=zzz"),
    ],
)
def test_redaction_blanks_personal_data_tokens_and_query_strings(text, leak):
    assert leak not in redact(text)
    assert leak not in _line(_record("%s", text))["message"]
    assert leak not in TextFormatter().format(_record("%s", text))


def test_ids_and_amounts_survive_redaction():
    text = "order 5123456789012 credited 12000 points=120 row=42 shop=a.myshopify.com at 2026-12-06"
    assert redact(text) == text


def test_exceptions_keep_their_type_and_frames_but_not_their_message():
    try:
        raise ValueError("duplicate key (email)=(jane@example.com)")
    except ValueError:
        line = _line(_record("failed", level=logging.ERROR, exc_info=sys.exc_info()))
    assert line["exception"]["type"] == "ValueError"
    assert line["exception"]["frames"][-1].startswith("test_log_lines.py:")
    assert "jane@example.com" not in json.dumps(line)


def test_configure_formats_the_plain_root_handler_and_quiets_httpx(monkeypatch):
    root = logging.getLogger()
    handler = logging.StreamHandler()
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(root, "level", root.level)
    for name in ("httpx", "httpcore"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    configure(load_settings(dict(TEST_ENV, DATABASE_URL="sqlite://", LOG_FORMAT="json")))
    assert isinstance(handler.formatter, JsonFormatter)
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
    configure(load_settings(dict(TEST_ENV, DATABASE_URL="sqlite://", LOG_FORMAT="text")))
    assert isinstance(handler.formatter, TextFormatter) and root.handlers == [handler]


def test_settings_choose_json_in_production_and_refuse_nonsense():
    base = dict(TEST_ENV, DATABASE_URL="sqlite://")
    assert load_settings(base).log_format == "text"
    production = dict(base, TSUNAGU_ENV="production", IDENTITY_HASH_KEY="k")
    assert load_settings(production).log_format == "json"
    assert load_settings(dict(base, LOG_FORMAT="json", LOG_LEVEL="warning")).log_level == "WARNING"
    settings = load_settings(dict(base, METRICS_TOKEN=" t0k ", HEARTBEAT_STALE_SECONDS="30"))
    assert (settings.metrics_token, settings.heartbeat_stale_seconds, settings.sentry_dsn) == (
        "t0k",
        30.0,
        None,
    )
    for bad in ({"LOG_FORMAT": "xml"}, {"LOG_LEVEL": "LOUD"}, {"HEARTBEAT_STALE_SECONDS": "0"}):
        with pytest.raises(ConfigError):
            load_settings(dict(base, **bad))
