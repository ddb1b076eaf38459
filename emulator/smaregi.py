"""A Smaregi Platform API stand-in: token endpoint, POS transactions, customers, stores, and webhook bodies.

It speaks HTTP (a WSGI app reached through an httpx transport) the way the documented API does: client
credentials with HTTP Basic on `id.smaregi.dev/app/{contract}/token`, Bearer tokens that expire, string ids
and amounts, `updDateTime` bumped on every change, 404 for unknown ids. Tests drive the register through its
helpers (ring a sale, edit, void, return) and read back what the app pushed (rank, points).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from werkzeug.wrappers import Request, Response

JST = ZoneInfo("Asia/Tokyo")


def _fmt(at: datetime) -> str:
    return at.astimezone(JST).isoformat(timespec="seconds")


@dataclass
class Contract:
    """One Smaregi contract (a merchant) and everything its register holds."""

    contract_id: str
    client_id: str
    client_secret: str
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)


class SmaregiStandIn:
    """State plus a WSGI app; `transport()` gives the httpx transport the app under test uses."""

    def __init__(self, token_lifetime: int = 3600) -> None:
        self.contracts: dict[str, Contract] = {}
        self.rank_codes = {"1", "2", "3", "4"}  # the ranks the merchant defined in Smaregi
        self.tokens: dict[str, tuple[str, datetime]] = {}
        self.token_lifetime = token_lifetime
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call, for assertions
        self.fail_next: list[int] = []  # status codes to answer the next API calls with
        self.fail_methods: dict[str, int] = {}  # e.g. {"PATCH": 503}: every call with that method fails
        self.clock: datetime | None = None  # fixed "now" for updDateTime; real time when None
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        # The login flow (authorisation code + OpenID Connect) of the app under test: its registered
        # credentials and Redirect URI, the contract the merchant signs in to, codes and user tokens issued.
        self.app_registration: tuple[str, str, str] | None = None
        self.signed_in_contract: str | None = None
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (contract id, redirect_uri); single use
        self.user_tokens: dict[str, str] = {}  # user access token -> contract id

    # --- setup and register actions ----------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    def add_contract(
        self, contract_id: str, client_id: str = "client-id", client_secret: str = "client-secret"
    ) -> Contract:
        contract = Contract(contract_id, client_id, client_secret)
        self.contracts[contract_id] = contract
        return contract

    def register_app(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """The app as set up in the developer console: credentials and its Redirect URI."""
        self.app_registration = (client_id, client_secret, redirect_uri)

    def approve(self, authorize_url: str, contract_id: str) -> str:
        """The merchant of `contract_id` signs in and allows the app: the URL Smaregi sends them back to.

        https://developers.smaregi.dev/apidoc/common/ (ログイン): `response_type=code`, `client_id`, `scope`
        (`openid` for the contract), `state` and a `redirect_uri` equal to the registered one; the answer is
        `code` and the unchanged `state` on the Redirect URI. The sign-in page itself is not modelled.
        """
        query = dict(httpx.URL(authorize_url).params)
        registration = self.app_registration
        if (
            registration is None
            or query.get("response_type") != "code"
            or query.get("client_id") != registration[0]
            or query.get("redirect_uri") != registration[2]
            or "openid" not in query.get("scope", "").split()
            or contract_id not in self.contracts
        ):
            raise ValueError("authorisation request refused")
        code = secrets.token_urlsafe(16)
        self.codes[code] = (contract_id, registration[2])
        return str(httpx.URL(registration[2], params={"code": code, "state": query.get("state", "")}))

    def add_store(self, contract_id: str, store_id: str, name: str) -> None:
        self.contracts[contract_id].stores[store_id] = {"storeId": store_id, "storeName": name}

    def add_customer(
        self,
        contract_id: str,
        customer_code: str,
        *,
        mobile: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        last_name: str = "山田",
        first_name: str = "花子",
    ) -> str:
        customer_id = str(next(self._ids))
        self.contracts[contract_id].customers[customer_id] = {
            "customerId": customer_id,
            "customerCode": customer_code,
            "lastName": last_name,
            "firstName": first_name,
            "phoneNumber": phone,
            "mobileNumber": mobile,
            "mailAddress": email,
            "rank": None,
            "point": "0",
            "status": "1",
            "updDateTime": _fmt(self.now()),
        }
        return customer_id

    def ring_sale(
        self,
        contract_id: str,
        store_id: str,
        total: int,
        at: datetime,
        customer_id: str | None = None,
        quantity: int = 1,
        spend_points: int = 0,
    ) -> str:
        """A normal sale rung at `at` (paying `spend_points` of the member's points); returns its id.

        Points used at the register are the transaction's `spendPoint`, and the register takes them off the
        member's `point` itself (the staff see the new balance on the receipt).
        """
        contract = self.contracts[contract_id]
        head_id = str(next(self._ids))
        customer = contract.customers.get(customer_id or "")
        if customer is not None and spend_points:
            customer["point"] = str(int(customer["point"]) - spend_points)
        contract.transactions[head_id] = {
            "transactionHeadId": head_id,
            "transactionDateTime": _fmt(at),
            "terminalTranDateTime": _fmt(at),
            "transactionHeadDivision": "1",
            "cancelDivision": "0",
            "subtotal": str(total),
            "total": str(total),
            "amount": str(quantity),
            "storeId": store_id,
            "terminalId": "1",
            "customerId": customer_id,
            "customerCode": customer["customerCode"] if customer else None,
            "spendPoint": str(spend_points),
            "disposeDivision": "0",
            "disposeServerTransactionHeadId": None,
            "updDateTime": _fmt(self.now()),
            "details": [
                {
                    "transactionHeadId": head_id,
                    "transactionDetailId": "1",
                    "transactionDetailDivision": "1",
                    "productId": "8000001",
                    "salesPrice": str(total // max(quantity, 1)),
                    "quantity": str(quantity),
                }
            ],
        }
        return head_id

    def edit(self, contract_id: str, head_id: str, total: int) -> None:
        """A receipt corrected in the back office: new total, newer updDateTime."""
        tx = self.contracts[contract_id].transactions[head_id]
        tx["total"] = tx["subtotal"] = str(total)
        tx["updDateTime"] = _fmt(self.now())

    def void_in_place(self, contract_id: str, head_id: str) -> None:
        """The receipt itself marked cancelled (cancelDivision 1)."""
        tx = self.contracts[contract_id].transactions[head_id]
        tx["cancelDivision"] = "1"
        tx["updDateTime"] = _fmt(self.now())

    def void(self, contract_id: str, head_id: str, at: datetime) -> str:
        """A cancel receipt pointing at the original (cancelDivision 1 + disposeServerTransactionHeadId)."""
        return self._counter_receipt(contract_id, head_id, at, None, cancel=True)

    def ring_return(self, contract_id: str, head_id: str, amount: int, at: datetime) -> str:
        """A (partial) return: return lines (division 2), negative total, pointing at the original."""
        return self._counter_receipt(contract_id, head_id, at, amount, cancel=False)

    def _counter_receipt(
        self, contract_id: str, head_id: str, at: datetime, amount: int | None, cancel: bool
    ) -> str:
        contract = self.contracts[contract_id]
        original = contract.transactions[head_id]
        value = amount if amount is not None else int(original["total"])
        new_id = str(next(self._ids))
        tx = dict(original)
        tx.update(
            transactionHeadId=new_id,
            transactionDateTime=_fmt(at),
            terminalTranDateTime=_fmt(at),
            cancelDivision="1" if cancel else "0",
            disposeDivision="1",
            disposeServerTransactionHeadId=head_id,
            total=str(-value),
            subtotal=str(-value),
            spendPoint="0",
            updDateTime=_fmt(self.now()),
            details=[
                {
                    "transactionHeadId": new_id,
                    "transactionDetailId": "1",
                    "transactionDetailDivision": "2",
                    "productId": "8000001",
                    "salesPrice": str(value),
                    "quantity": "-1",
                }
            ],
        )
        contract.transactions[new_id] = tx
        return new_id

    def webhook(
        self, contract_id: str, event: str, action: str, ids: list[str], event_id: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of the id-only webhook Smaregi would send for these records."""
        key = {"pos:transactions": "transactionHeadIds", "pos:customers": "customerIds"}[event]
        body = json.dumps({"contractId": contract_id, "event": event, "action": action, key: ids}).encode()
        headers = {
            "Content-Type": "application/json",
            "Smaregi-Contract-Id": contract_id,
            "Smaregi-Event": event,
            "Smaregi-Event-Id": event_id or secrets.token_hex(16),
            "User-Agent": "Smaregi-Platform-Api-Webhook/1.2.4(sandbox)",
        }
        return headers, body

    # --- HTTP --------------------------------------------------------------------------------------------
    def transport(self) -> httpx.BaseTransport:
        return httpx.WSGITransport(app=self)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        host = request.host.split(":", 1)[0]
        with self._lock:
            if host.startswith("id.smaregi.") and request.path.startswith(("/authorize", "/userinfo")):
                response = self._login(request)
            elif host.startswith("id.smaregi."):
                response = self._token(request)
            elif host.startswith("api.smaregi."):
                response = self._api(request)
            else:
                response = _json({"message": "unknown host"}, 404)
        return response(environ, start_response)

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        parts = request.path.strip("/").split("/")  # app/{contract}/token
        if len(parts) != 3 or parts[0] != "app" or parts[2] != "token" or request.method != "POST":
            return _json({"error": "not_found"}, 404)
        contract = self.contracts.get(parts[1])
        auth = request.headers.get("Authorization", "")
        expected = (
            contract
            and "Basic "
            + base64.b64encode(f"{contract.client_id}:{contract.client_secret}".encode()).decode()
        )
        if not contract or auth != expected:
            return _json({"error": "invalid_client"}, 401)
        if request.form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type"}, 400)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (
            contract.contract_id,
            datetime.now(UTC) + timedelta(seconds=self.token_lifetime),
        )
        return _json(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "scope": request.form.get("scope", ""),
            }
        )

    def _login(self, request: Request) -> Response:
        """The login flow's endpoints (https://developers.smaregi.dev/apidoc/common/, ログイン):
        GET /authorize (the merchant in `signed_in_contract` allows at once: 302 to the Redirect URI),
        POST /authorize/token (HTTP Basic with the app's credentials, `grant_type=authorization_code`, the
        code once, the same `redirect_uri`), POST /userinfo (Bearer user token -> `sub` and `contract.id`)."""
        if request.path == "/authorize" and request.method == "GET":
            if self.signed_in_contract is None:
                return _json({"error": "login_required"}, 401)
            try:
                location = self.approve(request.url, self.signed_in_contract)
            except ValueError:
                return _json({"error": "invalid_request"}, 400)
            return Response(status=302, headers={"Location": location})
        if request.path == "/authorize/token" and request.method == "POST":
            registration = self.app_registration
            expected = (
                registration
                and "Basic " + base64.b64encode(f"{registration[0]}:{registration[1]}".encode()).decode()
            )
            if not registration or request.headers.get("Authorization", "") != expected:
                return _json({"error": "invalid_client"}, 401)
            if request.form.get("grant_type") != "authorization_code":
                return _json({"error": "unsupported_grant_type"}, 400)
            issued = self.codes.pop(request.form.get("code", ""), None)
            if issued is None or issued[1] != request.form.get("redirect_uri"):
                return _json({"error": "invalid_grant"}, 400)
            token = secrets.token_urlsafe(24)
            self.user_tokens[token] = issued[0]
            return _json(
                {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "openid"}
            )
        if request.path == "/userinfo":
            contract_id = self.user_tokens.get(
                request.headers.get("Authorization", "").removeprefix("Bearer ")
            )
            if contract_id is None:
                return _json({"error": "invalid_token"}, 401)
            return _json({"sub": "1", "contract": {"id": contract_id, "user_id": "1", "is_owner": True}})
        return _json({"error": "not_found"}, 404)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _api(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")  # {contract}/pos/...
        if len(parts) < 3 or parts[1] != "pos" or parts[0] not in self.contracts:
            return _json({"title": "Not Found"}, 404)
        contract = self.contracts[parts[0]]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        owner = self.tokens.get(token)
        if not owner or owner[0] != contract.contract_id or owner[1] <= datetime.now(UTC):
            return _json({"title": "Unauthorized"}, 401)
        self.requests.append((request.method, "/" + "/".join(parts[2:])))
        if self.fail_next:
            return _json({"title": "Service Unavailable"}, self.fail_next.pop(0))
        if request.method in self.fail_methods:
            return _json({"title": "Service Unavailable"}, self.fail_methods[request.method])
        resource, rest = parts[2], parts[3:]
        if resource == "transactions":
            return self._transactions(contract, request, rest)
        if resource == "customers":
            return self._customers(contract, request, rest)
        if resource == "stores" and not rest and request.method == "GET":
            # GET /pos/stores: the contract's stores, `limit`/`page` like every list endpoint
            # (https://developers.smaregi.dev/platform-api-reference/apis/pos/operations/getstores).
            limit, page = int(request.args.get("limit", 100)), int(request.args.get("page", 1))
            return _json(list(contract.stores.values())[(page - 1) * limit : page * limit])
        if resource == "stores" and rest and request.method == "GET":
            store = contract.stores.get(rest[0])
            return _json(store) if store else _json({"title": "Not Found"}, 404)
        return _json({"title": "Not Found"}, 404)

    def _transactions(self, contract: Contract, request: Request, rest: list[str]) -> Response:
        if request.method != "GET":
            return _json({"title": "Method Not Allowed"}, 405)
        if rest:
            tx = contract.transactions.get(rest[0])
            if not tx:
                return _json({"title": "Not Found"}, 404)
            body = dict(tx)
            if request.args.get("with_details") not in ("all", "summary"):
                body.pop("details", None)
            return _json(body)
        start = datetime.fromisoformat(request.args["upd_date_time-from"])
        end = datetime.fromisoformat(request.args["upd_date_time-to"])
        if end - start > timedelta(days=31):
            return _json({"title": "Bad Request", "detail": "period over 31 days"}, 400)
        rows = [
            {k: v for k, v in tx.items() if k != "details"}
            for tx in contract.transactions.values()
            if start <= datetime.fromisoformat(tx["updDateTime"]) <= end
        ]
        rows.sort(key=lambda t: (t["updDateTime"], int(t["transactionHeadId"])))
        limit, page = int(request.args.get("limit", 100)), int(request.args.get("page", 1))
        return _json(rows[(page - 1) * limit : page * limit])

    def _customers(self, contract: Contract, request: Request, rest: list[str]) -> Response:
        if not rest and request.method == "POST":
            return self._create_customer(contract, request.get_json())
        if not rest:
            code = request.args.get("customer_code")
            rows = [c for c in contract.customers.values() if code is None or c["customerCode"] == code]
            return _json(rows[: int(request.args.get("limit", 100))])
        customer = contract.customers.get(rest[0])
        if not customer:
            return _json({"title": "Not Found"}, 404)
        if request.method == "GET" and len(rest) == 1:
            return _json(customer)
        if request.method == "PATCH" and len(rest) == 1:
            body = request.get_json()
            if "rank" in body and body["rank"] not in self.rank_codes:
                return _json({"title": "Bad Request", "detail": "rank is not a defined rank"}, 400)
            customer.update({k: v for k, v in body.items() if k in ("rank", "staffRank", "note")})
            customer["updDateTime"] = _fmt(self.now())
            return _json(customer)
        if request.method == "PATCH" and rest[1:] == ["point"]:
            point = request.get_json().get("point")
            if point is None or not str(point).lstrip("-").isdigit():
                return _json({"title": "Bad Request"}, 400)
            customer["point"] = str(point)
            expires = request.get_json().get("pointExpireDate")
            if expires is not None:
                customer["pointExpireDate"] = str(expires)
            customer["updDateTime"] = _fmt(self.now())
            return _json({"customerId": customer["customerId"], "point": customer["point"]})
        return _json({"title": "Not Found"}, 404)

    def _create_customer(self, contract: Contract, body: Any) -> Response:
        """POST /customers: customerCode (unique, <= 20 printable ASCII), lastName and firstName required
        (https://developers.smaregi.dev/platform-api-reference/apis/pos/operations/postcustomersbulk lists
        the same member fields for the bulk form)."""
        if not isinstance(body, dict):
            return _json({"title": "Bad Request"}, 400)
        code = str(body.get("customerCode") or "")
        if (
            not code
            or len(code) > 20
            or not code.isascii()
            or not body.get("lastName")
            or not body.get("firstName")
        ):
            return _json({"title": "Bad Request", "detail": "customerCode, lastName, firstName"}, 400)
        if any(c["customerCode"] == code for c in contract.customers.values()):
            return _json({"title": "Bad Request", "detail": "customerCode is taken"}, 400)
        if body.get("rank") is not None and body["rank"] not in self.rank_codes:
            return _json({"title": "Bad Request", "detail": "rank is not a defined rank"}, 400)
        customer_id = self.add_customer(
            contract.contract_id, code, last_name=str(body["lastName"]), first_name=str(body["firstName"])
        )
        customer = contract.customers[customer_id]
        customer["rank"] = body.get("rank")
        return _json(customer)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")


def event_id_for(body: bytes) -> str:
    """A stable event id for a body (tests that redeliver the same event)."""
    return hashlib.sha256(body).hexdigest()[:32]
