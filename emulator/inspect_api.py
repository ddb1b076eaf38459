"""Read-only HTTP view of emulator state for tests and the demo, plus bulk result downloads.

`GET https://{shop}/_emulator/bulk/<id>.jsonl` stands in for the signed storage URL Shopify hands out
for bulk results (no access token needed, as with Shopify's). Everything else lives under
`/_emulator/shops/<shop>/...` and returns JSON.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from emulator.state import EmulatorState, ShopState


def customer_view(shop: ShopState, customer_id: int) -> dict:
    """A customer as tests want to see it: identity, derived stats, tags and app metafields."""
    cust = shop.customers[customer_id]
    stats = shop.customer_stats(customer_id)
    return {
        "id": customer_id,
        "admin_graphql_api_id": cust["admin_graphql_api_id"],
        "first_name": cust.get("first_name"),
        "last_name": cust.get("last_name"),
        "email": cust.get("email"),
        "phone": cust.get("phone"),
        "created_at": cust["created_at"],
        "updated_at": cust["updated_at"],
        "tags": shop.customer_tags(customer_id),
        "metafields": shop.customer_metafields(customer_id),
        "amount_spent": str(stats["amount_spent"]),
        "orders_count": stats["orders_count"],
    }


def counters(shop: ShopState) -> dict:
    """Call counters, the bucket and the mutation log."""
    return {
        "graphql_calls": shop.graphql_calls,
        "throttled_count": shop.throttled_count,
        "throttle_status": shop.bucket.status(),
        "mutation_log": [{"operation": name, "sizes": sizes} for name, sizes in shop.mutation_log],
    }


def create_inspect_blueprint(state: EmulatorState) -> Blueprint:
    """The `/_emulator/...` inspection routes."""
    bp = Blueprint("emulator_inspect", __name__, url_prefix="/_emulator")

    def shop_or_404(domain: str) -> ShopState:
        shop = state.shops.get(domain)
        if shop is None:
            abort(404)
        return shop

    @bp.get("/bulk/<int:bulk_id>.jsonl")
    def bulk_result(bulk_id: int) -> Response:
        shop = shop_or_404((request.host or "").split(":", 1)[0].lower())
        body = shop.bulk_results.get(bulk_id)
        if body is None:
            abort(404)
        # Like Shopify's result URLs (cloud storage), byte ranges are served: a resumed download asks
        # for the rest of the file only.
        response = Response(body.encode(), mimetype="application/jsonl")
        return response.make_conditional(request, accept_ranges=True, complete_length=len(response.data))

    @bp.get("/shops")
    def shops() -> Response:
        return jsonify(
            [
                {"domain": s.domain, "name": s.name, "plan": s.plan, "installed": s.installed, **counters(s)}
                for s in state.shops.values()
            ]
        )

    @bp.get("/shops/<domain>/counters")
    def shop_counters(domain: str) -> Response:
        return jsonify(counters(shop_or_404(domain)))

    @bp.get("/shops/<domain>/customers")
    def customers(domain: str) -> Response:
        shop = shop_or_404(domain)
        return jsonify([customer_view(shop, cid) for cid in sorted(shop.customers)])

    @bp.get("/shops/<domain>/customers/<int:customer_id>")
    def customer(domain: str, customer_id: int) -> Response:
        shop = shop_or_404(domain)
        if customer_id not in shop.customers:
            abort(404)
        return jsonify(customer_view(shop, customer_id))

    @bp.get("/shops/<domain>/segments")
    def segments(domain: str) -> Response:
        shop = shop_or_404(domain)
        return jsonify([{**seg, "member_ids": shop.segment_members(seg["id"])} for seg in shop.segments()])

    @bp.get("/shops/<domain>/orders")
    def orders(domain: str) -> Response:
        shop = shop_or_404(domain)
        return jsonify([shop.orders[oid] for oid in sorted(shop.orders)])

    @bp.get("/shops/<domain>/discounts")
    def discounts(domain: str) -> Response:
        shop = shop_or_404(domain)
        return jsonify([shop.discounts[did] for did in sorted(shop.discounts)])

    return bp
