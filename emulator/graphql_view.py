"""`POST /admin/api/<version>/graphql.json`: auth, validation, cost and throttling, execution.

Shopify's behaviour reproduced here: unknown shop 404; missing/expired/revoked token 401 with
`{"errors": "[API] Invalid API key or access token ..."}`; invalid documents get `errors` with locations
and a code; over the single-query limit MAX_COST_EXCEEDED; over the bucket THROTTLED (HTTP 200,
nothing executed); every answer carries `extensions.cost`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request
from graphql import GraphQLError

from emulator.cost import SINGLE_QUERY_MAX_COST, actual_cost, cost_extension, requested_cost
from emulator.resolvers.common import RequestContext
from emulator.resolvers.dispatch import execute_document
from emulator.schema import API_VERSION, implied_scopes, operation_for, parse_document, validate
from emulator.state import EmulatorState

log = logging.getLogger(__name__)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
SUPPORTED_VERSIONS = {API_VERSION}
# graphql-ruby (Shopify's server) names its validation errors; map graphql-core's messages onto them.
_VALIDATION_CODES = (
    (re.compile(r"^Cannot query field"), "undefinedField"),
    (re.compile(r"^Unknown argument"), "argumentNotAccepted"),
    (re.compile(r"required, but it was not provided"), "missingRequiredArguments"),
    (re.compile(r"^Unknown type"), "undefinedType"),
    (re.compile(r"^Variable .* used in position expecting"), "variableMismatch"),
    (re.compile(r"^Variable .* is never used"), "variableNotUsed"),
    (re.compile(r"^Variable .* is not defined"), "variableNotDefined"),
    (re.compile(r"must have a selection of subfields|must not have a selection"), "selectionMismatch"),
    (
        re.compile(r"cannot represent|Expected value of type|Enum .* cannot represent"),
        "argumentLiteralsIncompatible",
    ),
    (re.compile(r"^Syntax Error"), "parseError"),
)


def _max_cost_message(requested: int) -> str:
    """Shopify's MAX_COST_EXCEEDED text."""
    return (
        f"Query cost is {requested}, which exceeds the single query max cost limit ({SINGLE_QUERY_MAX_COST})."
        "\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
        "cost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, "
        "bulk operations should be used instead.\n"
        "See https://shopify.dev/api/usage/bulk-operations/queries for usage details.\n"
    )


def _validation_code(message: str) -> str:
    return next((code for pattern, code in _VALIDATION_CODES if pattern.search(message)), "validationFailed")


def _format_error(err: GraphQLError, default_code: str | None = None) -> dict:
    out: dict[str, Any] = {"message": err.message}
    if err.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in err.locations]
    if err.path:
        out["path"] = list(err.path)
    extensions = dict(err.extensions or {})
    if default_code and "code" not in extensions:
        extensions["code"] = default_code
    if extensions:
        out["extensions"] = extensions
    return out


def run_graphql(state: EmulatorState, shop_domain: str, token: str | None, body: Any) -> tuple[int, dict]:
    """The whole request pipeline without Flask (tests and benchmarks may call it directly)."""
    shop = state.shops.get(shop_domain)
    if shop is None:
        return 404, {"errors": "Not Found"}
    granted = state.tokens.check_access(shop_domain, token or "")
    if granted is None or not shop.installed:
        return 401, {"errors": INVALID_TOKEN}
    if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
        return 400, {"errors": {"query": "Required parameter missing or invalid"}}
    with state.lock:  # counters are read by concurrent tests
        shop.graphql_calls += 1
    query, variables = body["query"], body.get("variables") or {}
    operation_name = body.get("operationName") or None
    no_cost = cost_extension(0, 0, shop.bucket)
    errors = validate(query)
    if errors:
        formatted = [_format_error(e, _validation_code(e.message)) for e in errors]
        return 200, {"errors": formatted, "extensions": {"cost": no_cost}}
    doc = parse_document(query)
    op = operation_for(doc, operation_name)
    if op is None:
        message = (
            f'No operation named "{operation_name}"' if operation_name else "An operation name is required"
        )
        return 200, {"errors": [{"message": message}], "extensions": {"cost": no_cost}}
    if not isinstance(variables, dict):
        return 200, {"errors": [{"message": "Variables must be an object"}], "extensions": {"cost": no_cost}}
    requested = requested_cost(doc, op, variables)
    if requested > SINGLE_QUERY_MAX_COST:
        return 200, {
            "errors": [
                {
                    "message": _max_cost_message(requested),
                    "extensions": {
                        "code": "MAX_COST_EXCEEDED",
                        "cost": requested,
                        "maxCost": SINGLE_QUERY_MAX_COST,
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": {"cost": cost_extension(requested, None, shop.bucket)},
        }
    if not shop.bucket.try_take(requested):
        with state.lock:
            shop.throttled_count += 1
        return 200, {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": {"cost": cost_extension(requested, None, shop.bucket)},
        }
    ctx = RequestContext(state=state, shop=shop, granted=implied_scopes(granted))
    with state.lock:
        result = execute_document(ctx, doc, operation_name, variables)
    actual = actual_cost(doc, op, variables, result.data) if result.data is not None else 0
    shop.bucket.refund(requested - actual)
    payload: dict[str, Any] = {}
    if result.errors:
        for err in result.errors:
            if err.original_error is not None and not isinstance(err.original_error, GraphQLError):
                # An emulator bug, not Shopify behaviour: make it loud in logs and recognisable in the body.
                log.error("emulator resolver crashed at %s", err.path, exc_info=err.original_error)
                err.extensions = {**(err.extensions or {}), "code": "INTERNAL_SERVER_ERROR"}
        # Errors before execution (no path, no data) are variable coercion failures.
        default = "INVALID_VARIABLE" if result.data is None else None
        payload["errors"] = [_format_error(e, default if not e.path else None) for e in result.errors]
    payload["data"] = result.data
    extensions: dict[str, Any] = {"cost": cost_extension(requested, actual, shop.bucket)}
    if ctx.search_warnings:
        extensions["search"] = ctx.search_warnings
    payload["extensions"] = extensions
    for topic, event in ctx.events:
        state.emit(shop_domain, topic, event)
    return 200, payload


def create_graphql_blueprint(state: EmulatorState) -> Blueprint:
    """The Admin GraphQL endpoint; the shop is the request's Host (port stripped)."""
    bp = Blueprint("emulator_graphql", __name__)

    @bp.post("/admin/api/<version>/graphql.json")
    def graphql(version: str) -> Response:
        if version not in SUPPORTED_VERSIONS:
            # Shopify would serve another version; the emulator only has the 2026-07 schema, so it refuses
            # rather than answer with a schema the app did not ask for.
            resp = jsonify(errors=f"API version {version} is not emulated; only {API_VERSION} is available")
            resp.status_code = 404
            return resp
        shop_domain = (request.host or "").split(":", 1)[0].lower()
        if request.mimetype == "application/graphql":
            body: Any = {"query": request.get_data(as_text=True)}
        else:
            body = request.get_json(silent=True)
        status, payload = run_graphql(state, shop_domain, request.headers.get("X-Shopify-Access-Token"), body)
        resp = jsonify(payload)
        resp.status_code = status
        resp.headers["X-Shopify-API-Version"] = API_VERSION
        return resp

    return bp
