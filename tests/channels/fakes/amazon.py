"""A fake Amazon SP-API (LWA token endpoint, Orders v0, Listings Items 2021-08-01) and Seller Central's
website-authorization consent page (which, as if the seller pressed Confirm, redirects back with
``spapi_oauth_code``, ``state`` and ``selling_partner_id``)."""

from __future__ import annotations

import copy
import uuid
from urllib.parse import parse_qs, urlencode

from integrations.base import StockUpdate
from tests.channels.fakes.base import FakeServer, Response

ORDER = {
    "AmazonOrderId": "902-3159896-1390916",
    "PurchaseDate": "2026-01-10T10:00:00Z",
    "LastUpdateDate": "2026-01-10T10:05:00Z",
    "OrderStatus": "Unshipped",
    "FulfillmentChannel": "MFN",
    "ShipServiceLevel": "Std US D2D Dom",
    "ShipmentServiceLevelCategory": "Standard",
    "OrderTotal": {"CurrencyCode": "USD", "Amount": "25.00"},
    "MarketplaceId": "ATVPDKIKX0DER",
    "IsPrime": False,
    "ShippingAddress": {
        "Name": "Jane Buyer",
        "AddressLine1": "1 Main St",
        "City": "Seattle",
        "StateOrRegion": "WA",
        "PostalCode": "98101",
        "CountryCode": "US",
        "Phone": "+1 206 555 0100",
    },
    "BuyerInfo": {"BuyerEmail": "jane@marketplace.amazon.com", "BuyerName": "Jane"},
}
ITEM = {
    "ASIN": "B00TEST",
    "SellerSKU": "AMZ-1",
    "OrderItemId": "68828574383266",
    "Title": "Widget",
    "QuantityOrdered": 2,
    "QuantityShipped": 0,
    "ItemPrice": {"CurrencyCode": "USD", "Amount": "20.00"},
    "ItemTax": {"CurrencyCode": "USD", "Amount": "1.60"},
}


class FakeAmazon(FakeServer):
    platform = "amazon"
    page_size = 2

    def __init__(self):
        self.orders: dict[str, dict] = {}
        self.items: dict[str, list[dict]] = {}
        self.listings = {
            "AMZ-1": {
                "sku": "AMZ-1",
                "summaries": [{"asin": "B00TEST", "itemName": "Widget"}],
                "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": 4}],
            }
        }
        self.confirmations: list[tuple[str, dict]] = []
        self.tokens: dict[str, list] = {}
        self.lwa_calls = 0
        self.application_id = "amzn1.sp.solution.fulfil-test"
        self.lwa_client = ("amzn1.application-oa2-client.fulfil", "lwa-secret")
        self.seller_id = "A2SELLERTEST"
        self.auth_codes: dict[str, str] = {}  # code -> the redirect_uri it was issued for
        super().__init__()

    def conn_kwargs(self) -> dict:
        return {
            "account_id": "A2SELLERTEST",
            "base_url": self.url,
            "credentials": {
                "refresh_token": "Atzr|test",
                "lwa_app_id": "amzn1.app",
                "lwa_client_secret": "s",
                "marketplace": "US",
            },
        }

    def add_order(self, n: int, *, sku: str, quantity: int, updated: str, status: str = "Unshipped") -> None:
        oid = f"902-{n:07d}-0000001"
        order = copy.deepcopy(ORDER)
        order.update(AmazonOrderId=oid, LastUpdateDate=updated, OrderStatus=status)
        item = copy.deepcopy(ITEM)
        item.update(SellerSKU=sku, QuantityOrdered=quantity, OrderItemId=f"{n}01")
        self.orders[oid] = order
        self.items[oid] = [item]

    def stock_of(self, sku: str):
        for a in (self.listings.get(sku) or {}).get("fulfillmentAvailability") or []:
            return a["quantity"]
        return None

    def stock_update(self, sku, quantity):
        return StockUpdate(sku=sku, quantity=quantity, external_id=sku)

    @property
    def shipments(self):
        return self.confirmations

    def fault_body(self, status: int):
        return {
            "errors": [
                {
                    "code": "QuotaExceeded" if status == 429 else "InternalFailure",
                    "message": f"injected {status}",
                }
            ]
        }

    def _auth(self, req):
        if not req.headers.get("x-amz-access-token", "").startswith("Atza|"):
            return Response(
                403,
                {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]},
            )
        return None

    def setup_routes(self):
        r = self.route
        r("POST", r"/auth/o2/token", self.token)
        r("GET", r"/apps/authorize/consent", self.consent)
        r("GET", r"/orders/v0/orders", self.get_orders)
        r("GET", r"/orders/v0/orders/([^/]+)/orderItems", self.get_items)
        r("POST", r"/orders/v0/orders/([^/]+)/shipmentConfirmation", self.confirm)
        r("GET", r"/listings/2021-08-01/items/([^/]+)", self.search)
        r("PATCH", r"/listings/2021-08-01/items/([^/]+)/([^/]+)", self.patch)

    def consent(self, req, m):
        """The seller signs in and confirms: back to our redirect URI with a 5-minute code."""
        if req.query.get("application_id") != self.application_id:
            return Response(
                400, b"<html>We could not find this application.</html>", {"Content-Type": "text/html"}
            )
        code = "ANDaNDa" + uuid.uuid4().hex
        self.auth_codes[code] = req.query.get("redirect_uri", "")
        query = urlencode(
            {
                "spapi_oauth_code": code,
                "state": req.query.get("state", ""),
                "selling_partner_id": self.seller_id,
            }
        )
        return Response(302, b"", {"Location": f"{req.query.get('redirect_uri')}?{query}"})

    def token(self, req, m):
        self.lwa_calls += 1
        form = {k: v[-1] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("grant_type") == "authorization_code":
            issued_for = self.auth_codes.pop(form.get("code", ""), None)  # a code works once
            if (
                issued_for is None
                or issued_for != form.get("redirect_uri")
                or (form.get("client_id"), form.get("client_secret")) != self.lwa_client
            ):
                return Response(
                    400, {"error": "invalid_grant", "error_description": "The authorization code is invalid"}
                )
            return {
                "access_token": "Atza|" + uuid.uuid4().hex,
                "refresh_token": "Atzr|" + uuid.uuid4().hex,
                "token_type": "bearer",
                "expires_in": 3600,
            }
        if b"refresh_token=Atzr" not in req.body and b"refresh_token=" in req.body:
            return Response(
                400, {"error": "invalid_grant", "error_description": "The request has an invalid grant"}
            )
        return {
            "access_token": "Atza|" + uuid.uuid4().hex,
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": "Atzr|test",
        }

    def get_orders(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        if "NextToken" in req.query:
            rest = self.tokens.pop(req.query["NextToken"], [])
        else:
            since = req.query.get("LastUpdatedAfter") or req.query.get("CreatedAfter") or ""
            rest = sorted(
                (o for o in self.orders.values() if o["LastUpdateDate"] >= since),
                key=lambda o: o["LastUpdateDate"],
            )
        chunk, rest = rest[: self.page_size], rest[self.page_size :]
        payload = {"Orders": chunk}
        if rest:
            token = uuid.uuid4().hex
            self.tokens[token] = rest
            payload["NextToken"] = token
        return {"payload": payload}

    def get_items(self, req, m):
        return self._auth(req) or {
            "payload": {"AmazonOrderId": m.group(1), "OrderItems": self.items.get(m.group(1), [])}
        }

    def confirm(self, req, m):
        if m.group(1) not in self.orders:
            return Response(404, {"errors": [{"code": "NotFound", "message": "order not found"}]})
        self.confirmations.append((m.group(1), req.json()))
        return Response(204, None)

    def search(self, req, m):
        return self._auth(req) or {
            "numberOfResults": len(self.listings),
            "items": list(self.listings.values()),
            "pagination": {},
        }

    def patch(self, req, m):
        if (denied := self._auth(req)) is not None:
            return denied
        body = req.json()
        value = body["patches"][0]["value"][0]["quantity"]
        listing = self.listings.setdefault(m.group(2), {"sku": m.group(2), "fulfillmentAvailability": [{}]})
        listing["fulfillmentAvailability"] = [{"fulfillmentChannelCode": "DEFAULT", "quantity": value}]
        return {"sku": m.group(2), "status": "ACCEPTED", "submissionId": uuid.uuid4().hex, "issues": []}
