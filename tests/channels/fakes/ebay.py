"""A fake eBay (Identity token refresh, Sell Fulfillment orders + shipping fulfillments, Sell Inventory), the
OAuth consent redirect and code grant, the Identity API user, and the Notification API public key with a
signer for marketplace account deletion notices (ECDSA/SHA1 ``X-EBAY-SIGNATURE``, as eBay sends them)."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from urllib.parse import parse_qs, urlencode

from integrations.base import StockUpdate
from tests.channels.fakes.base import FakeServer, Response

ORDER = {
    "orderId": "12-03456-78901",
    "creationDate": "2026-01-10T10:00:00.000Z",
    "lastModifiedDate": "2026-01-10T10:05:00.000Z",
    "orderFulfillmentStatus": "NOT_STARTED",
    "orderPaymentStatus": "PAID",
    "cancelStatus": {"cancelState": "NONE_REQUESTED"},
    "buyer": {"username": "buyer_1", "buyerRegistrationAddress": {"email": "buyer@members.ebay.com"}},
    "pricingSummary": {
        "total": {"value": "30.00", "currency": "USD"},
        "deliveryCost": {"value": "5.00", "currency": "USD"},
    },
    "fulfillmentStartInstructions": [
        {
            "shippingStep": {
                "shippingServiceCode": "USPSPriority",
                "shipTo": {
                    "fullName": "Eve Buyer",
                    "contactAddress": {
                        "addressLine1": "2 Elm St",
                        "city": "Austin",
                        "stateOrProvince": "TX",
                        "postalCode": "78701",
                        "countryCode": "US",
                    },
                    "primaryPhone": {"phoneNumber": "5125550100"},
                    "email": "buyer@members.ebay.com",
                },
            }
        }
    ],
    "lineItems": [
        {
            "lineItemId": "10000000001",
            "legacyItemId": "110000000001",
            "sku": "EBAY-1",
            "title": "Gadget",
            "quantity": 1,
            "lineItemCost": {"value": "25.00", "currency": "USD"},
        }
    ],
}


class FakeEbay(FakeServer):
    platform = "ebay"
    page_size = 2

    def __init__(self):
        self.orders: dict[str, dict] = {}
        self.inventory = {
            "EBAY-1": {
                "sku": "EBAY-1",
                "product": {"title": "Gadget", "upc": ["012345678905"]},
                "availability": {"shipToLocationAvailability": {"quantity": 3}},
            }
        }
        self.fulfillments: list[tuple[str, dict]] = []
        self.token_refreshes = 0
        self.valid_tokens: set[str] = set()
        self.client = ("cid", "cs")
        self.runame = "Fulfil_Test-FulfilTe-Fulfil-abcde"
        self.accept_url = ""  # the RuName's "auth accepted" URL: our callback
        self.auth_codes: set[str] = set()
        self.username = "acme_ebay"
        from cryptography.hazmat.primitives.asymmetric import ec

        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = uuid.uuid4().hex  # a fresh key per fake: cached keys never leak between tests
        self.key_fetches = 0
        super().__init__()

    def conn_kwargs(self) -> dict:
        return {
            "account_id": "acme_ebay",
            "base_url": self.url,
            "credentials": {"refresh_token": "v^1.1#refresh", "client_id": "cid", "client_secret": "cs"},
        }

    def add_order(self, n: int, *, sku: str, quantity: int, updated: str) -> None:
        order = copy.deepcopy(ORDER)
        order.update(orderId=f"12-{n:05d}-00001", lastModifiedDate=updated)
        order["lineItems"][0].update(sku=sku, quantity=quantity, lineItemId=f"{n}001")
        self.orders[order["orderId"]] = order

    def stock_of(self, sku):
        return (
            ((self.inventory.get(sku) or {}).get("availability") or {})
            .get("shipToLocationAvailability", {})
            .get("quantity")
        )

    def stock_update(self, sku, quantity):
        return StockUpdate(sku=sku, quantity=quantity, external_id=sku)

    @property
    def shipments(self):
        return self.fulfillments

    def _auth(self, req):
        token = req.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return Response(401, {"errors": [{"errorId": 1001, "message": "Invalid access token"}]})
        return None

    def setup_routes(self):
        r = self.route
        r("POST", r"/identity/v1/oauth2/token", self.token)
        r("GET", r"/oauth2/authorize", self.authorize)
        r("GET", r"/commerce/identity/v1/user/", self.user)
        r("GET", r"/commerce/notification/v1/public_key/([^/]+)", self.public_key)
        r("GET", r"/sell/fulfillment/v1/order", self.list_orders)
        r("POST", r"/sell/fulfillment/v1/order/([^/]+)/shipping_fulfillment", self.ship)
        r("GET", r"/sell/inventory/v1/inventory_item", self.items)
        r("POST", r"/sell/inventory/v1/bulk_update_price_quantity", self.bulk)

    def authorize(self, req, m):
        """The seller signs in and agrees: to the RuName's accepted URL with ``state``, ``code``, ``expires_in``."""
        q = req.query
        if (
            q.get("client_id") != self.client[0]
            or q.get("redirect_uri") != self.runame
            or q.get("response_type") != "code"
        ):
            return Response(400, b"<html>invalid_request</html>", {"Content-Type": "text/html"})
        code = "v^1.1#i^1#r^1#p^3#f^0#I^3#t^" + uuid.uuid4().hex
        self.auth_codes.add(code)
        query = urlencode({"state": q.get("state", ""), "code": code, "expires_in": 299})
        return Response(302, b"", {"Location": f"{self.accept_url}?{query}"})

    def public_key(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        if m.group(1) != self.key_id:
            return Response(
                404, {"errors": [{"errorId": 195001, "message": "The specified key id is invalid."}]}
            )
        from cryptography.hazmat.primitives import serialization

        self.key_fetches += 1
        pem = self.signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        one_line = pem.decode().replace("\n", "")  # eBay serves the PEM without line breaks
        return {"algorithm": "ECDSA", "digest": "SHA1", "key": one_line}

    def sign(self, body: bytes, *, key_id: str | None = None) -> str:
        """The ``X-EBAY-SIGNATURE`` eBay would send with ``body``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signature = self.signing_key.sign(body, ec.ECDSA(hashes.SHA1()))
        header = {
            "alg": "ecdsa",
            "kid": key_id or self.key_id,
            "signature": base64.b64encode(signature).decode(),
            "digest": "SHA1",
        }
        return base64.b64encode(json.dumps(header).encode()).decode()

    def user(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        return {"userId": "eb-immutable-1", "username": self.username, "accountType": "BUSINESS"}

    def token(self, req, m):
        form = {k: v[-1] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("grant_type") == "client_credentials":
            basic = "Basic " + base64.b64encode(f"{self.client[0]}:{self.client[1]}".encode()).decode()
            if req.headers.get("Authorization") != basic:
                return Response(
                    401, {"error": "invalid_client", "error_description": "client authentication failed"}
                )
            token = "v^1.1#i^1#app#" + uuid.uuid4().hex
            self.valid_tokens.add(token)
            return {"access_token": token, "expires_in": 7200, "token_type": "Application Access Token"}
        if form.get("grant_type") == "authorization_code":
            basic = "Basic " + base64.b64encode(f"{self.client[0]}:{self.client[1]}".encode()).decode()
            if (
                req.headers.get("Authorization") != basic
                or form.get("code") not in self.auth_codes
                or form.get("redirect_uri") != self.runame
            ):
                return Response(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "the provided authorization grant code is invalid or was issued to another client",
                    },
                )
            self.auth_codes.discard(form["code"])
            token = "v^1.1#i^1#" + uuid.uuid4().hex
            self.valid_tokens.add(token)
            return {
                "access_token": token,
                "expires_in": 7200,
                "refresh_token": "v^1.1#i^1#r^1#" + uuid.uuid4().hex,
                "refresh_token_expires_in": 47304000,
                "token_type": "User Access Token",
            }
        if (
            not req.headers.get("Authorization", "").startswith("Basic ")
            or b"grant_type=refresh_token" not in req.body
        ):
            return Response(400, {"error": "invalid_grant"})
        self.token_refreshes += 1
        token = "v^1.1#i^1#" + uuid.uuid4().hex
        self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": 7200, "token_type": "User Access Token"}

    def list_orders(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        since = req.query.get("filter", "").split("[", 1)[-1].split("..", 1)[0]
        items = sorted(
            (o for o in self.orders.values() if o["lastModifiedDate"] >= since),
            key=lambda o: o["lastModifiedDate"],
        )
        offset, limit = (
            int(req.query.get("offset") or 0),
            min(int(req.query.get("limit") or 50), self.page_size),
        )
        page = items[offset : offset + limit]
        body = {"total": len(items), "limit": limit, "offset": offset, "orders": page}
        if offset + limit < len(items):
            body["next"] = f"{self.url}/sell/fulfillment/v1/order?offset={offset + limit}&limit={limit}"
        return body

    def ship(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        self.fulfillments.append((m.group(1), req.json()))
        fid = uuid.uuid4().hex[:12]
        return Response(
            201,
            None,
            {"Location": f"{self.url}/sell/fulfillment/v1/order/{m.group(1)}/shipping_fulfillment/{fid}"},
        )

    def items(self, req, m):
        return self._auth(req) or {
            "total": len(self.inventory),
            "inventoryItems": list(self.inventory.values()),
        }

    def bulk(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        responses = []
        for r in req.json()["requests"]:
            item = self.inventory.setdefault(r["sku"], {"sku": r["sku"], "availability": {}})
            item["availability"] = {"shipToLocationAvailability": r["shipToLocationAvailability"]}
            responses.append({"statusCode": 200, "sku": r["sku"]})
        return {"responses": responses}
