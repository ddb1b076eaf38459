"""The merchant downloads customer data exports from the dashboard; operators from `flask data-exports`."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import select

from app.models import DataExport, Shop
from app.models.types import utcnow


def export_for(
    session, shop_id: int | None, domain: str, request_id: str, *, age_days: int = 0
) -> DataExport:
    row = DataExport(
        shop_id=shop_id,
        shop_domain=domain,
        shopify_customer_id="7001",
        data_request_id=request_id,
        data={"member": {"members": [{"member_number": "M-1", "email_hash": "abc"}]}},
    )
    session.add(row)
    session.flush()
    row.built_at = utcnow() - timedelta(days=age_days)
    session.commit()
    return row


def test_the_merchant_lists_and_downloads_an_export_and_it_is_logged(admin, installed, session, caplog):
    export = export_for(session, installed.id, installed.domain, "9999")
    html = admin.html("/data-exports")
    assert f'data-export="{export.id}"' in html and "9999" in html and "Customer data requests" in html
    assert "Data requests" in admin.html("/")  # in the navigation

    caplog.set_level(logging.INFO, logger="app.customers.exports")
    response = admin.fetch(f"/data-exports/{export.id}.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert 'filename="tsunagu-data-request-9999.json"' in response.headers["Content-Disposition"]
    document = json.loads(response.get_data())
    assert document["shopify_customer_id"] == "7001" and document["data"] == export.data
    session.expire_all()
    assert (export.status, export.downloaded_at is not None) == ("downloaded", True)
    (line,) = [r.getMessage() for r in caplog.records if "downloaded" in r.getMessage()]
    assert f"data export {export.id}" in line and "7001" not in line and "M-1" not in line


def test_the_page_is_in_japanese_for_japanese_merchants(admin, installed, session):
    export_for(session, installed.id, installed.domain, "1")
    assert "顧客データの開示請求" in admin.html("/data-exports", locale="ja")


def test_another_shops_export_is_neither_listed_nor_downloadable(admin, installed, session):
    other = Shop(domain="someone-else.myshopify.com")
    session.add(other)
    session.commit()
    theirs = export_for(session, other.id, other.domain, "4242")
    assert f'data-export="{theirs.id}"' not in admin.html("/data-exports")
    assert admin.fetch(f"/data-exports/{theirs.id}.json").status_code == 404
    session.expire_all()
    assert session.get(DataExport, theirs.id).downloaded_at is None


def test_an_expired_export_is_gone(admin, installed, session):
    old = export_for(session, installed.id, installed.domain, "77", age_days=31)
    assert f'data-export="{old.id}"' not in admin.html("/data-exports")
    assert admin.fetch(f"/data-exports/{old.id}.json").status_code == 404


def test_the_download_needs_a_session_token(client, installed, session):
    export = export_for(session, installed.id, installed.domain, "5")
    assert client.get(f"/data-exports/{export.id}.json").status_code == 401


def test_operators_list_and_download_from_the_cli(app, session, shop, tmp_path, caplog):
    export = export_for(session, shop.id, shop.domain, "31")
    expired = export_for(session, shop.id, shop.domain, "32", age_days=40)
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["data-exports", "list"])
    assert listing.exit_code == 0 and "request 31" in listing.output and "request 32" not in listing.output

    caplog.set_level(logging.INFO, logger="app.customers.exports")
    target = tmp_path / "export.json"
    result = runner.invoke(args=["data-exports", "download", str(export.id), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["data_request_id"] == "31"
    assert any("downloaded by cli" in r.getMessage() for r in caplog.records)
    session.expire_all()
    assert session.scalar(select(DataExport.status).where(DataExport.id == export.id)) == "downloaded"
    refused = runner.invoke(args=["data-exports", "download", str(expired.id), "-o", str(tmp_path / "x")])
    assert refused.exit_code != 0 and not (tmp_path / "x").exists()
