"""Bulk-export JSONL of the demo retailer at benchmark sizes, without holding a shop in memory.

The emulator renders bulk results from an in-memory shop (53 s per 20,000 orders on this machine, and
gigabytes at 1,000,000), so B4 streams the demo generator straight into the rows `bulk_customers.graphql` and
`bulk_orders.graphql` select. `check_against_emulator()` proves the rows equal the emulator's own output at a
small size, so the benchmark reads exactly what Shopify's (emulated) export would hand the app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from emulator.demo_catalog import STORES
from emulator.demo_data import DemoSpec, iter_customers, iter_orders

DEMO_ORDERS = 20_000  # orders of DemoSpec() at scale 1 (about; the generator draws daily counts)
_STORE_NAMES = {store.id: store.name for store in STORES}


@dataclass
class BulkFiles:
    """Where the two result files are, and what they hold."""

    customers: Path
    orders: Path
    customer_rows: int = 0
    order_rows: int = 0
    walk_ins: int = 0
    bytes: int = 0


def _gid(kind: str, value: Any) -> str:
    return f"gid://shopify/{kind}/{value}"


def _amount(value: Any) -> str:
    """Money as the emulator's MoneyV2 prints it (a decimal string with at least one decimal place)."""
    text = str(Decimal(str(value)))
    return text if "." in text else f"{text}.0"


def customer_row(customer: dict) -> dict:
    """One line of bulk_customers.graphql."""
    return {
        "id": _gid("Customer", customer["id"]),
        "email": customer.get("email"),
        "phone": customer.get("phone"),
        "createdAt": customer["created_at"],
        "updatedAt": customer["updated_at"],
    }


def order_row(order: dict) -> dict:
    """One line of bulk_orders.graphql (refunds are a list on the order's line, not child lines)."""
    location_id = order.get("location_id")
    refunds = [
        {
            "id": _gid("Refund", refund["id"]),
            "createdAt": refund["created_at"],
            "processedAt": refund.get("processed_at") or refund["created_at"],
            "totalRefundedSet": {
                "shopMoney": {
                    "amount": _amount(
                        sum(Decimal(str(t["amount"])) for t in refund.get("transactions") or [])
                    )
                }
            },
        }
        for refund in order.get("refunds") or []
    ]
    return {
        "id": order["admin_graphql_api_id"],
        "createdAt": order["created_at"],
        "processedAt": order.get("processed_at") or order["created_at"],
        "updatedAt": order["updated_at"],
        "cancelledAt": order.get("cancelled_at"),
        "test": bool(order.get("test", False)),
        "sourceName": order.get("source_name"),
        "currencyCode": order.get("currency") or "JPY",
        "discountCodes": [d["code"] for d in order.get("discount_codes") or []],
        "subtotalLineItemsQuantity": sum(int(i["quantity"]) for i in order.get("line_items") or []),
        "subtotalPriceSet": {
            "shopMoney": {
                "amount": _amount(order.get("subtotal_price") or "0"),
                "currencyCode": order.get("currency") or "JPY",
            }
        },
        "customer": {"id": _gid("Customer", order["customer"]["id"])} if order.get("customer") else None,
        "retailLocation": {"id": _gid("Location", location_id), "name": _STORE_NAMES[location_id]}
        if location_id
        else None,
        "refunds": refunds,
    }


def spec_for(orders: int) -> DemoSpec:
    """The demo retailer scaled to about `orders` orders (customers scale with it)."""
    return DemoSpec().scaled(orders / DEMO_ORDERS)


def _dump(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def iter_rows(spec: DemoSpec) -> tuple[Iterator[dict], Iterator[dict]]:
    return (customer_row(c) for c in iter_customers(spec)), (order_row(o) for o in iter_orders(spec))


def write_files(orders: int, directory: Path) -> BulkFiles:
    """Write (or reuse, when already complete) the two JSONL files for about `orders` orders."""
    directory.mkdir(parents=True, exist_ok=True)
    files = BulkFiles(directory / f"customers-{orders}.jsonl", directory / f"orders-{orders}.jsonl")
    manifest = directory / f"manifest-{orders}.json"
    if manifest.exists() and files.customers.exists() and files.orders.exists():
        saved = json.loads(manifest.read_text())
        files.customer_rows, files.order_rows = saved["customer_rows"], saved["order_rows"]
        files.walk_ins, files.bytes = saved["walk_ins"], saved["bytes"]
        return files
    customers, order_rows = iter_rows(spec_for(orders))
    with files.customers.open("w") as fh:
        for row in customers:
            fh.write(_dump(row) + "\n")
            files.customer_rows += 1
    with files.orders.open("w") as fh:
        for row in order_rows:
            fh.write(_dump(row) + "\n")
            files.order_rows += 1
            files.walk_ins += row["customer"] is None
    files.bytes = files.customers.stat().st_size + files.orders.stat().st_size
    manifest.write_text(
        json.dumps(
            {
                "customer_rows": files.customer_rows,
                "order_rows": files.order_rows,
                "walk_ins": files.walk_ins,
                "bytes": files.bytes,
            }
        )
    )
    return files


def check_against_emulator(scale: float = 0.02) -> int:
    """Assert our rows equal the emulator's bulk export of the same demo shop; returns rows compared."""
    from app.shopify.graphql import load_document
    from emulator.demo_data import load_into
    from emulator.graphql_view import run_graphql
    from emulator.state import EmulatorState

    domain = "bulk-check.myshopify.com"
    state = EmulatorState("bench-key", "bench-secret")
    shop = state.install_shop(domain)
    spec = DemoSpec().scaled(scale)
    load_into(state, domain, spec=spec)
    token = state.tokens.issue_offline(domain, set(state.config.scopes), expiring=False)["access_token"]
    mutation = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } } }"
    compared = 0
    ours_customers, ours_orders = iter_rows(spec)
    for document, ours in (("bulk_customers", ours_customers), ("bulk_orders", ours_orders)):
        status, body = run_graphql(
            state, domain, token, {"query": mutation, "variables": {"q": load_document(document)}}
        )
        assert status == 200 and not body.get("errors"), body
        bulk_id = max(shop.bulk_results)
        theirs = [json.loads(line) for line in shop.bulk_results[bulk_id].splitlines() if line.strip()]
        mine = list(ours)
        mismatched = [(a, b) for a, b in zip(mine, theirs, strict=False) if a != b]
        assert len(mine) == len(theirs) and not mismatched, (document, len(mine), len(theirs), mismatched[:1])
        compared += len(mine)
    return compared
